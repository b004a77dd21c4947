package natsembed

import (
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestStartServesJetStreamAndCleansUp(t *testing.T) {
	s, err := Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "nats://127.0.0.1:") {
		t.Errorf("URL %s, want a loopback address", s.URL())
	}
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	nc.Close()
	dir := s.Dir()
	s.Shutdown()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary store %s left behind (%v)", dir, err)
	}
}

func TestStartKeepsAGivenStoreAndRefusesOtherAddresses(t *testing.T) {
	dir := t.TempDir()
	s, err := Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a given store directory was removed: %v", err)
	}
	for _, addr := range []string{"10.1.2.3:4222", "0.0.0.0:4222", "example.com:4222", "127.0.0.1", "127.0.0.1:x"} {
		if s, err := Start(addr, dir); err == nil {
			s.Shutdown()
			t.Errorf("Start(%q) succeeded, want an error", addr)
		}
	}
}

func TestStartExposedWantsAnInterfaceAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:4222", "[::]:4222", "example.com:4222", "10.1.2.3"} {
		if s, err := StartExposed(addr, t.TempDir()); err == nil {
			s.Shutdown()
			t.Errorf("StartExposed(%q) succeeded, want an error", addr)
		}
	}
	s, err := StartExposed("127.0.0.1:0", t.TempDir()) // loopback is an interface's address too
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
}
