package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netns runs ip(8) and reports its error with its output.
func netns(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestPartitionsAcrossNetworkNamespaces runs a partitioned run with every
// process in its own network namespace, created (and removed) by the test:
// a hub namespace with the NATS server on a bridge, one namespace per
// partition joined to the bridge by a veth pair, link-local addresses,
// nothing routed and no interface of the host touched. Partition 1 is cut
// off (its link down) for a while: the others stall (they say they wait for
// partition 1) and the run, once the link is back, ends with the golden
// row's hashes in every partition; the journals verify.
func TestPartitionsAcrossNetworkNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the network namespace test takes about 15 s")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("cannot create network namespaces: no ip command (iproute2); install it and run as root to include this test")
	}
	tag := fmt.Sprintf("lxb%d", os.Getpid()%100000)
	hub := tag + "hub"
	if err := netns("netns", "add", hub); err != nil {
		t.Skipf("cannot create network namespaces: %v; run as root (CAP_SYS_ADMIN) to include this test", err)
	}
	const P = 3
	spaces := []string{hub}
	t.Cleanup(func() {
		for _, ns := range spaces {
			if err := netns("netns", "del", ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	must := func(args ...string) {
		t.Helper()
		if err := netns(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("-n", hub, "link", "set", "lo", "up")
	must("-n", hub, "link", "add", "br0", "type", "bridge")
	must("-n", hub, "addr", "add", "169.254.77.1/24", "dev", "br0")
	must("-n", hub, "link", "set", "br0", "up")
	for k := range P {
		ns := fmt.Sprintf("%sp%d", tag, k)
		must("netns", "add", ns)
		spaces = append(spaces, ns)
		must("-n", ns, "link", "set", "lo", "up")
		// the pair is made inside the namespaces: the host's never sees it
		must("-n", hub, "link", "add", fmt.Sprintf("vh%d", k), "type", "veth", "peer", "name", "vp", "netns", ns)
		must("-n", hub, "link", "set", fmt.Sprintf("vh%d", k), "master", "br0", "up")
		must("-n", ns, "addr", "add", fmt.Sprintf("169.254.77.%d/24", 10+k), "dev", "vp")
		must("-n", ns, "link", "set", "vp", "up")
	}
	dir := t.TempDir()
	srv := startBin(t, []string{"ip", "netns", "exec", hub}, "nats", "--listen", "169.254.77.1:4222", "--expose", "--store", filepath.Join(dir, "store"))
	waitFor(t, 30*time.Second, "the server in the hub namespace", func() bool { return strings.Contains(srv.errb.String(), "NATS with JetStream at") })
	url := "nats://169.254.77.1:4222"
	r := goldenRowNamed(t, "local-osc-b64-damp")
	procs := make([]*binProc, P)
	js := make([]string, P)
	for k := range P {
		js[k] = filepath.Join(dir, fmt.Sprintf("run.p%d", k))
		procs[k] = startBin(t, []string{"ip", "netns", "exec", fmt.Sprintf("%sp%d", tag, k)},
			partitionArgs(r, P, k, url, "--journal", js[k], "--snapshot-every", "100", "--sync", "none")...)
	}
	waitFor(t, time.Minute, "a snapshot of partition 1", func() bool { return partitionSnapshots(js[1]) > 0 })
	must("-n", tag+"p1", "link", "set", "vp", "down") // partition 1 is cut off
	waitFor(t, 30*time.Second, "partition 0 to wait for partition 1", func() bool {
		return strings.Contains(procs[0].errb.String(), "waiting for partition(s) [1]")
	})
	for k, p := range procs {
		select {
		case err := <-p.done:
			t.Fatalf("partition %d ended while partition 1 was cut off: %v\n%s", k, err, p.out.String())
		default:
		}
	}
	must("-n", tag+"p1", "link", "set", "vp", "up") // back
	for k, p := range procs {
		out := p.wait(t, 2*time.Minute, rowExit(t, r))
		wantRow(t, fmt.Sprintf("partition %d (namespace %sp%d)", k, tag, k), out, r)
	}
	if out, errs, code := runArgs(append([]string{"verify"}, js...)...); code != 0 || configLines(out)["trace"] != r.Trace {
		t.Errorf("verify: exit %d %s\n%s", code, errs, out)
	}
	_ = srv.cmd.Process.Signal(os.Interrupt)
	srv.wait(t, 30*time.Second, 0)
}
