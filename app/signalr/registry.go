package signalr

import (
	"slices"
	"sync"
)

// registry tracks the connections of one hub: who they belong to, which
// groups they are in, and whether the library has finished connecting them.
//
// It exists because the library has no notion of users, and its own group
// map is written by AddToGroup while InvokeGroup ranges over it without a
// lock, and is never cleaned on disconnect.
type registry struct {
	mu         sync.Mutex
	conns      map[string]*conn               // by connection id
	userGroups map[string]map[string]struct{} // user → groups its connections join
}

type conn struct {
	user   string
	live   bool
	groups map[string]struct{}
}

func newRegistry() *registry {
	return &registry{
		conns:      map[string]*conn{},
		userGroups: map[string]map[string]struct{}{},
	}
}

// open records a connection attempt for id by user; it reports false when
// id is already in use, so that a second request cannot take it over.
func (r *registry) open(id, user string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[id]; ok {
		return false
	}
	c := &conn{user: user, groups: map[string]struct{}{}}
	r.conns[id] = c
	if user != "" {
		for g := range r.userGroups[user] {
			c.groups[g] = struct{}{}
		}
	}
	return true
}

// close forgets id and its group memberships.
func (r *registry) close(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, id)
}

// setLive marks id as reachable by sends (the library's handshake is done).
func (r *registry) setLive(id string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.conns[id]; ok {
		c.live = live
	}
}

// addToGroup puts connection id into group; ErrNotFound if id is unknown.
func (r *registry) addToGroup(group, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.conns[id]
	if !ok {
		return ErrNotFound
	}
	c.groups[group] = struct{}{}
	return nil
}

// removeFromGroup takes connection id out of group; ErrNotFound if id is
// unknown.
func (r *registry) removeFromGroup(group, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.conns[id]
	if !ok {
		return ErrNotFound
	}
	delete(c.groups, group)
	return nil
}

// addUserToGroup puts every connection of user, present and future, into
// group.
func (r *registry) addUserToGroup(user, group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.userGroups[user] == nil {
		r.userGroups[user] = map[string]struct{}{}
	}
	r.userGroups[user][group] = struct{}{}
	for _, c := range r.conns {
		if c.user == user {
			c.groups[group] = struct{}{}
		}
	}
}

// removeUserFromGroup undoes addUserToGroup; an empty group means all.
func (r *registry) removeUserFromGroup(user, group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if group == "" {
		delete(r.userGroups, user)
	} else {
		delete(r.userGroups[user], group)
	}
	for _, c := range r.conns {
		switch {
		case c.user != user:
		case group == "":
			clear(c.groups)
		default:
			delete(c.groups, group)
		}
	}
}

// live returns the ids of live connections that pass keep, never nil: a
// nil list means "everyone" to hub.send.
func (r *registry) live(keep func(id string, c *conn) bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := []string{}
	for id, c := range r.conns {
		if c.live && keep(id, c) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (r *registry) inGroup(group string) []string {
	return r.live(func(_ string, c *conn) bool { _, ok := c.groups[group]; return ok })
}

func (r *registry) ofUser(user string) []string {
	return r.live(func(_ string, c *conn) bool { return c.user == user })
}

func (r *registry) all() []string {
	return r.live(func(string, *conn) bool { return true })
}

func (r *registry) has(id string) bool {
	return len(r.live(func(cid string, _ *conn) bool { return cid == id })) > 0
}
