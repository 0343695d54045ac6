# The enviromon image: the app, the device simulator and the local SignalR
# service as static binaries on distroless (no shell, no package manager,
# uid 65532), with the dashboard and the embedded-mode components.
#   docker build -t enviromon:dev .
# app/deploy/dockerfile_test.go checks this file and runs its build steps;
# keep each RUN a single command it knows.

# No --platform=$BUILDPLATFORM cross-building: ACR Tasks (az acr build)
# refuses that FROM form. An arm64 image builds under emulation instead.

# The dashboard's npm packages provide the official SignalR browser client,
# which build.mjs copies into vendor/.
FROM node:20-bookworm-slim AS dashboard
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY dashboard/ ./
RUN node build.mjs

# The binaries, without cgo: static, so they run on distroless/static.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules in a layer of their own: reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY app/ app/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./app/cmd/enviromon ./app/cmd/devicesim ./app/cmd/signalr-local

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/enviromon /out/devicesim /out/signalr-local /
# What the browser loads, nothing else of the dashboard folder.
COPY --from=dashboard /src/dashboard/index.html /src/dashboard/config.js /src/dashboard/style.css /dashboard/
COPY --from=dashboard /src/dashboard/js/ /dashboard/js/
COPY --from=dashboard /src/dashboard/vendor/ /dashboard/vendor/
COPY components/embedded/ /components/embedded/
# The app's relative defaults (-components components/embedded, -dashboard
# dashboard) resolve from here.
WORKDIR /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/enviromon"]
