package main

import (
	"fmt"

	"github.com/enviromon/enviromon/app/alert"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/pipeline"
)

// checkKeyLayout refuses a state component whose keyPrefix, with the app's
// keys, would keep two records in one place or every device in one Table
// Storage partition. daprd cannot tell: it stores whatever it is given.
func checkKeyLayout(c component.Component, appID, namespace string) error {
	devices, shared := pipeline.SampleKeys("device-a", "device-b")
	for i, id := range []string{"device-a", "device-b"} { // the alerts' keys (app/alert)
		devices[i] = append(devices[i], alert.StateKey("rule", id))
	}
	shared = append(shared, alert.RulesKey, alert.ListKey, alert.RuleKey("rule"))
	if err := c.CheckKeyLayout(appID, namespace, component.KeySample{Devices: devices, Shared: shared}); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	return nil
}

// sidecarKeyLayout checks the state component daprd loads, when its
// manifest is in the folder cfg.Components (under Kubernetes, a ConfigMap of
// the same file), and returns its type. Without that folder there is nothing
// to read: it says so, and the type is "".
func (a *app) sidecarKeyLayout(cfg config, getenv func(string) string) (string, error) {
	if cfg.Components == "" {
		a.log.Warn("state key layout not checked: give -components the folder of the state component's manifest")
		return "", nil
	}
	comps, err := component.LoadDir(cfg.Components, component.Options{AppID: cfg.AppID, Getenv: getenv, LeaveSecrets: true})
	if err != nil {
		return "", err
	}
	for _, c := range comps {
		if c.Name == cfg.StateStore {
			return c.Type, checkKeyLayout(c, cfg.AppID, getenv("NAMESPACE"))
		}
	}
	return "", fmt.Errorf("state component %q not found in %s (-components)", cfg.StateStore, cfg.Components)
}
