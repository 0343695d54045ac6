package component

import (
	"errors"
	"fmt"
	"strings"
)

// KeySeparator joins daprd's key prefix and the app's key. daprd v1.16
// refuses an app key or a keyPrefix that contains it
// (pkg/components/state/state_config.go, checkKeyIllegal).
const KeySeparator = "||"

// ErrKeySeparator is daprd's refusal of a key or key prefix holding
// KeySeparator: it would not read back as the same key.
var ErrKeySeparator = errors.New("must not contain " + KeySeparator)

// KeyPrefix returns what daprd v1.16 puts before every key of this state
// store (pkg/components/state/state_config.go): metadata keyPrefix, matched
// case-insensitively and lower-cased, is
//
//	appid (default)  appID||key, or key alone when appID is empty
//	name             <component name>||key
//	namespace        <namespace>.<appID>||key; appID||key without a namespace
//	none             key
//	anything else    <value>||key
func (c Component) KeyPrefix(appID, namespace string) (string, error) {
	strategy := c.keyPrefixStrategy()
	if strings.Contains(strategy, KeySeparator) {
		return "", fmt.Errorf("keyPrefix %q: %w", strategy, ErrKeySeparator)
	}
	switch strategy {
	case "none":
		return "", nil
	case "name":
		return c.Name + KeySeparator, nil
	case "appid", "namespace":
		switch {
		case appID == "":
			return "", nil
		case strategy == "namespace" && namespace != "":
			return namespace + "." + appID + KeySeparator, nil
		}
		return appID + KeySeparator, nil
	default:
		return strategy + KeySeparator, nil
	}
}

func (c Component) keyPrefixStrategy() string {
	for k, v := range c.Metadata {
		if strings.EqualFold(k, "keyPrefix") {
			return strings.ToLower(v)
		}
	}
	return "appid"
}

// StoredKey is key as daprd hands it to the store: the prefix, then the
// key. An empty key or one holding KeySeparator is refused, as daprd does.
func StoredKey(prefix, key string) (string, error) {
	switch {
	case key == "":
		return "", errors.New("empty key")
	case strings.Contains(key, KeySeparator):
		return "", fmt.Errorf("key %q: %w", key, ErrKeySeparator)
	}
	return prefix + key, nil
}
