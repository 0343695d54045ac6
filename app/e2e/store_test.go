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
	// Keys returns every stored key in daprd's form, "<prefix>||<key>".
	Keys(ctx context.Context) ([]string, error)
	// Value returns the value stored under a key as Keys names it.
	Value(ctx context.Context, key string) ([]byte, error)
}

// keyPrefix is what daprd puts before every key with the component's
// `keyPrefix: name`: the component's name, the same for every replica.
const keyPrefix = stateStore + "||"

// storedDevices reads every device record from s. It fails on a key without
// the component-name prefix (keyPrefix not honoured: keys would differ per
// app id) and on a device record under a key other than its id's.
func storedDevices(ctx context.Context, s store) (map[string]counts, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	slices.Sort(keys)
	out := map[string]counts{}
	for _, k := range keys {
		if !strings.HasPrefix(k, keyPrefix) {
			return nil, fmt.Errorf("key %q lacks the prefix %q", k, keyPrefix)
		}
		if !strings.HasPrefix(k, keyPrefix+"device:") {
			continue // index shards
		}
		v, err := s.Value(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", k, err)
		}
		var d telemetry.Device
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("decode %s: %w (%.200q)", k, err, v)
		}
		if want := keyPrefix + telemetry.DeviceKey(d.ID); k != want {
			return nil, fmt.Errorf("device %q stored under %q, want %q", d.ID, k, want)
		}
		out[d.ID] = counts{Count: d.Count, Rejected: d.Rejected}
	}
	return out, nil
}

// tableStore reads Azure Table Storage (Azurite). components-contrib v1.16.0
// state/azure/tablestorage splits daprd's key at "||": PartitionKey is the
// prefix ("statestore"), RowKey the rest ("device:sim-001"), and the value
// is the string property Value.
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
	sel := "PartitionKey,RowKey"
	pager := s.client.NewListEntitiesPager(&aztables.ListEntitiesOptions{Select: &sel})
	var keys []string
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
			keys = append(keys, e.PartitionKey+"||"+e.RowKey)
		}
	}
	return keys, nil
}

func (s *tableStore) Value(ctx context.Context, key string) ([]byte, error) {
	pk, rk, ok := strings.Cut(key, "||")
	if !ok {
		return nil, fmt.Errorf("key %q has no ||", key)
	}
	resp, err := s.client.GetEntity(ctx, pk, rk, nil)
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
	return keys, rows.Err()
}

func (s *sqliteStore) Value(ctx context.Context, key string) ([]byte, error) {
	var (
		v      string
		binary bool
	)
	err := s.db.QueryRowContext(ctx, `SELECT value, is_binary FROM `+s.table+` WHERE key = ?`, key).Scan(&v, &binary)
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
	return keys, iter.Err()
}

func (s *redisStore) Value(ctx context.Context, key string) ([]byte, error) {
	return s.rdb.HGet(ctx, key, "data").Bytes()
}
