package broker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// A listener with a certificate takes TLS clients only: jobs.Connect to
// its tls:// URL with the certificate's CA reaches it, without the CA the
// certificate is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clipfs test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)

	srv, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "t0ken", CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if !strings.HasPrefix(srv.URL(), "tls://") {
		t.Fatalf("URL %s, want tls://", srv.URL())
	}
	nc, err := jobs.Connect(srv.URL(), "test", jobs.Auth{Token: "t0ken", CAFile: certFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil || !nc.IsConnected() {
		t.Errorf("over TLS with the CA: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(srv.URL(), nats.Token("t0ken")); err == nil {
		nc.Close()
		t.Error("a client without the CA was let in")
	}
	if nc, err := nats.Connect("nats://"+srv.Addr(), nats.Token("t0ken")); err == nil {
		nc.Close()
		t.Error("a plain-text client was let in")
	}
}
