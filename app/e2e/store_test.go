//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/telemetry"
)

// store reads a state backend directly, without daprd, the way an operator
// would look at it.
type store interface {
	// Keys returns the app's key of every stored record; a record stored
	// outside the component's key layout is an error.
	Keys(ctx context.Context) ([]string, error)
	// Value returns the value stored under the app's key.
	Value(ctx context.Context, key string) ([]byte, error)
}

// namePrefix is what daprd puts before every key with the component's
// `keyPrefix: name` (the sqlite and redis components): the component's name,
// the same for every replica.
const namePrefix = stateStore + "||"

// storedDevices reads every device record from s. It fails on a device
// record under a key other than its id's.
func storedDevices(ctx context.Context, s store) (map[string]counts, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	slices.Sort(keys)
	out := map[string]counts{}
	for _, k := range keys {
		if !strings.HasPrefix(k, "device:") {
			continue // index shards, calibration, dead letters
		}
		v, err := s.Value(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", k, err)
		}
		var d telemetry.Device
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("decode %s: %w (%.200q)", k, err, v)
		}
		if want := telemetry.DeviceKey(d.ID); k != want {
			return nil, fmt.Errorf("device %q stored under %q, want %q", d.ID, k, want)
		}
		out[d.ID] = counts{Count: d.Count, Rejected: d.Rejected}
	}
	return out, nil
}

// unprefixed strips namePrefix from the keys of a store whose component has
// `keyPrefix: name`, failing on a key without it (keyPrefix not honoured:
// keys would differ per app id).
func unprefixed(stored []string) ([]string, error) {
	keys := make([]string, 0, len(stored))
	for _, k := range stored {
		app, ok := strings.CutPrefix(k, namePrefix)
		if !ok {
			return nil, fmt.Errorf("key %q lacks the prefix %q", k, namePrefix)
		}
		keys = append(keys, app)
	}
	return keys, nil
}

// tableStore reads Azure Table Storage (Azurite). components-contrib v1.16.0
// state/azure/tablestorage splits daprd's key at "||"; with the component's
// `keyPrefix: none` there is none, so PartitionKey is the app's key
// ("device:sim-001"), RowKey is "", and the value is the string property
// Value.
type tableStore struct{ client *aztables.Client }

func newTableStore(az testenv.Azurite, table string) (*tableStore, error) {
	cred, err := aztables.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		return nil, err
	}
	svc, err := aztables.NewServiceClientWithSharedKey(az.TableURL, cred,
		&aztables.ClientOptions{ClientOptions: policy.ClientOptions{InsecureAllowCredentialWithHTTP: true}})
	if err != nil {
		return nil, err
	}
	return &tableStore{client: svc.NewClient(table)}, nil
}

func (s *tableStore) Keys(ctx context.Context) ([]string, error) {
	entities, err := s.entities(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(entities))
	for _, e := range entities {
		if e.RowKey != "" {
			return nil, fmt.Errorf("entity (PartitionKey %q, RowKey %q): keyPrefix none stores every record with RowKey \"\"", e.PartitionKey, e.RowKey)
		}
		keys = append(keys, e.PartitionKey)
	}
	return keys, nil
}

// entities lists every entity's PartitionKey and RowKey.
func (s *tableStore) entities(ctx context.Context) ([]aztables.Entity, error) {
	sel := "PartitionKey,RowKey"
	pager := s.client.NewListEntitiesPager(&aztables.ListEntitiesOptions{Select: &sel})
	var out []aztables.Entity
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, raw := range page.Entities {
			var e aztables.Entity
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *tableStore) Value(ctx context.Context, key string) ([]byte, error) {
	resp, err := s.client.GetEntity(ctx, key, "", nil)
	if err != nil {
		return nil, err
	}
	var e struct {
		Value *string `json:"Value"`
	}
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return nil, err
	}
	if e.Value == nil {
		return nil, errors.New("entity has no Value property")
	}
	return []byte(*e.Value), nil
}

// sqliteStore reads state.sqlite's table: key, value (base64 when
// is_binary), is_binary, etag, ...
type sqliteStore struct {
	db    *sql.DB
	table string
}

func newSQLiteStore(path, table string) (*sqliteStore, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	return &sqliteStore{db: db, table: table}, nil
}

func (s *sqliteStore) Close() error { return s.db.Close() }

func (s *sqliteStore) Keys(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM `+s.table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return unprefixed(keys)
}

func (s *sqliteStore) Value(ctx context.Context, key string) ([]byte, error) {
	var (
		v      string
		binary bool
	)
	err := s.db.QueryRowContext(ctx, `SELECT value, is_binary FROM `+s.table+` WHERE key = ?`, namePrefix+key).Scan(&v, &binary)
	if err != nil {
		return nil, err
	}
	if binary {
		return base64.StdEncoding.DecodeString(v)
	}
	return []byte(v), nil
}

// redisStore reads state.redis: one hash per key, the value in field data.
type redisStore struct{ rdb *redis.Client }

func newRedisStore(addr string) *redisStore {
	return &redisStore{rdb: redis.NewClient(&redis.Options{Addr: addr})}
}

func (s *redisStore) Close() error { return s.rdb.Close() }

func (s *redisStore) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	iter := s.rdb.Scan(ctx, 0, "*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	return unprefixed(keys)
}

func (s *redisStore) Value(ctx context.Context, key string) ([]byte, error) {
	return s.rdb.HGet(ctx, namePrefix+key, "data").Bytes()
}
