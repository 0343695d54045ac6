package inprocess

import (
	"errors"
	"fmt"
	"strings"
)

// separator joins daprd's key prefix and the app's key.
const separator = "||"

// errKeySeparator is daprd's refusal of keys that contain the separator: they
// would not read back as the same key.
var errKeySeparator = errors.New("key must not contain " + separator)

// keyPrefix returns what daprd v1.16 puts before every key of the state
// store (pkg/components/state/state_config.go): metadata keyPrefix, matched
// case-insensitively and lower-cased, is
//
//	appid (default)  appID||key, or key alone when appID is empty
//	name             <component name>||key
//	namespace        <namespace>.<appID>||key; appID||key without a namespace
//	none             key
//	anything else    <value>||key
func keyPrefix(metadata map[string]string, storeName, appID, namespace string) (string, error) {
	strategy := "appid"
	for k, v := range metadata {
		if strings.EqualFold(k, "keyPrefix") {
			strategy = strings.ToLower(v)
			break
		}
	}
	if strings.Contains(strategy, separator) {
		return "", fmt.Errorf("keyPrefix %q: %w", strategy, errKeySeparator)
	}
	switch strategy {
	case "none":
		return "", nil
	case "name":
		return storeName + separator, nil
	case "appid", "namespace":
		switch {
		case appID == "":
			return "", nil
		case strategy == "namespace" && namespace != "":
			return namespace + "." + appID + separator, nil
		}
		return appID + separator, nil
	default:
		return strategy + separator, nil
	}
}
