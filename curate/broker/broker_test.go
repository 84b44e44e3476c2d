package broker_test

import (
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/broker"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/nats-io/nats.go"
)

// A listener with a user takes only clients that give its password; one
// without a user or token is refused on a non-loopback address (before it
// binds: the test opens no port beyond loopback).
func TestAuth(t *testing.T) {
	srv, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), User: "clipfs", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := "nats://" + srv.Addr()
	for _, tc := range []struct {
		auth jobs.Auth
		ok   bool
	}{
		{jobs.Auth{User: "clipfs", Password: "s3cret"}, true},
		{jobs.Auth{User: "clipfs", Password: "wrong"}, false},
		{jobs.Auth{}, false},
	} {
		nc, err := nats.Connect(url, nats.UserInfo(tc.auth.User, tc.auth.Password))
		if tc.ok && err != nil {
			t.Errorf("%+v refused: %v", tc.auth, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%+v let in", tc.auth)
		}
		if nc != nil {
			nc.Close()
		}
	}
	// jobs.Connect with the right password reaches JetStream.
	nc, err := jobs.Connect(url, "test", jobs.Auth{User: "clipfs", Password: "s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Errorf("flush: %v", err)
	}

	if _, err := broker.Start(broker.Options{Listen: "0.0.0.0:0", StoreDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("an open listener on every address: %v, want it refused", err)
	}
	if _, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), User: "clipfs"}); err == nil {
		t.Error("a user without a password was accepted")
	}
}

// jobs.Connect refuses what is not a NATS URL, in one line naming it.
func TestConnectURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:4222", "127.0.0.1:4222", "nats://"} {
		if _, err := jobs.Connect(u, "test", jobs.Auth{}, nil); err == nil || !strings.Contains(err.Error(), "--nats") {
			t.Errorf("%q: %v, want a --nats error", u, err)
		}
	}
}
