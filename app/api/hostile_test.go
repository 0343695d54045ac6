package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
)

// corpusDir holds hostile bodies for POST /api/telemetry; its cases.txt
// says what each must be answered.
const corpusDir = "testdata/hostile"

// hostileCase is one line of cases.txt: a body file, the status it gets,
// the devices that must exist afterwards (and no other), the Content-Type
// it is sent with, and a substring of the answer's text (see answer.text).
type hostileCase struct {
	file        string
	status      int
	devices     []string
	contentType string
	want        string
	body        []byte
}

// loadCorpus reads cases.txt and the body of every case in it. Files
// ending in .gz hold large, repetitive bodies compressed; the body is what
// they decompress to.
func loadCorpus(t testing.TB) []hostileCase {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "cases.txt"))
	require.NoError(t, err)
	defer f.Close()
	var cases []hostileCase
	lines := bufio.NewScanner(f)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCase(line)
		require.NoError(t, err, "cases.txt:%d", n)
		c.body, err = corpusBody(c.file)
		require.NoError(t, err, "cases.txt:%d", n)
		cases = append(cases, c)
	}
	require.NoError(t, lines.Err())
	return cases
}

// parseCase parses "file status [device=ID]... [type=CONTENT-TYPE] answer".
func parseCase(line string) (hostileCase, error) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return hostileCase{}, fmt.Errorf("want: file status [device=ID]... [type=T] answer, got %q", line)
	}
	c := hostileCase{file: fields[0], contentType: "application/json"}
	status, err := strconv.Atoi(fields[1])
	if err != nil {
		return c, fmt.Errorf("status %q: %w", fields[1], err)
	}
	c.status = status
	rest := fields[2:]
	for len(rest) > 0 {
		key, value, _ := strings.Cut(rest[0], "=")
		switch key {
		case "device":
			c.devices = append(c.devices, value)
		case "type":
			c.contentType = value
		default:
			c.want = strings.Join(rest, " ")
			return c, nil
		}
		rest = rest[1:]
	}
	return c, fmt.Errorf("no answer in %q", line)
}

func corpusBody(file string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(corpusDir, file))
	if err != nil || !strings.HasSuffix(file, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return io.ReadAll(zr)
}

// realAPI is the router over a running pipeline on an in-memory store.
func realAPI(t testing.TB, cfg pipeline.Config) *gin.Engine {
	t.Helper()
	p, err := pipeline.New(newMemStore(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return NewRouter(Deps{Ingest: p, Devices: p, Calibrations: p})
}

func post(r http.Handler, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/telemetry", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func get(t *testing.T, r http.Handler, path string, into any) int {
	t.Helper()
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	if w.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), into), "GET %s: %s", path, w.Body)
	}
	return w.Code
}

// answer is an ingest answer: an error, or what became of the readings.
type answer struct {
	Error                          string
	Accepted, Rejected, Duplicates int
	Reasons                        []string
}

// text is what cases.txt matches: the error, or "accepted=A rejected=R
// duplicates=D" and each reason after " | ".
func (a answer) text() string {
	if a.Error != "" {
		return a.Error
	}
	s := fmt.Sprintf("accepted=%d rejected=%d duplicates=%d", a.Accepted, a.Rejected, a.Duplicates)
	for _, r := range a.Reasons {
		s += " | " + r
	}
	return s
}

// escapeAll percent-encodes every byte but letters and digits, more than
// any client does; the server must read the same id back.
func escapeAll(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// TestHostileBodies posts every body of the corpus to the real router and
// pipeline, checks its answer, that a refused body is dead-lettered, and
// that every device it created is read back by its id however the id is
// escaped in the URL.
func TestHostileBodies(t *testing.T) {
	cases := loadCorpus(t)
	require.GreaterOrEqual(t, len(cases), 50)
	listed := map[string]bool{"cases.txt": true}
	for _, c := range cases {
		assert.False(t, listed[c.file], "%s is listed twice", c.file)
		listed[c.file] = true
	}
	files, err := os.ReadDir(corpusDir)
	require.NoError(t, err)
	for _, f := range files {
		assert.True(t, listed[f.Name()], "%s has no line in cases.txt", f.Name())
	}

	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r := realAPI(t, pipeline.Config{RejectedKeep: 1 << 14})
			w := post(r, c.body, c.contentType)
			var got answer
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), "the answer is JSON: %s", w.Body)
			if os.Getenv("HOSTILE_PRINT") != "" {
				t.Logf("ANSWER %s %d %s", c.file, w.Code, got.text())
			}
			assert.Equal(t, c.status, w.Code, got.text())
			assert.Contains(t, got.text(), c.want)

			var rejected []pipeline.Rejection
			require.Equal(t, http.StatusOK, get(t, r, "/api/rejected", &rejected))
			switch {
			case c.status == http.StatusBadRequest:
				require.Len(t, rejected, 1, "a refused body is dead-lettered")
				assert.Contains(t, rejected[0].Reason, c.want)
				assert.LessOrEqual(t, utf8.RuneCountInString(rejected[0].Payload), 513, "with an excerpt of the body only")
			case c.status == http.StatusOK:
				assert.Len(t, rejected, got.Rejected, "each rejected reading is dead-lettered")
			default:
				assert.Empty(t, rejected, "a body over the limit never reaches the pipeline")
			}

			var devices []struct{ DeviceID string }
			require.Equal(t, http.StatusOK, get(t, r, "/api/devices", &devices))
			var ids []string
			for _, d := range devices {
				ids = append(ids, d.DeviceID)
			}
			assert.ElementsMatch(t, c.devices, ids, "the devices created")
			for _, id := range ids {
				for _, path := range []string{url.PathEscape(id), escapeAll(id)} {
					var d struct{ DeviceID string }
					assert.Equal(t, http.StatusOK, get(t, r, "/api/devices/"+path, &d), "GET /api/devices/%s", path)
					assert.Equal(t, id, d.DeviceID, "GET /api/devices/%s", path)
				}
			}
		})
	}
}
