// Package natsembed runs a NATS server with JetStream inside the process
// (github.com/nats-io/nats-server/v2, the server NATS ships, as a library),
// so that replicated runs, their tests and the README's examples need no
// separate install. It listens on a loopback address only.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server with JetStream.
type Server struct {
	s   *server.Server
	dir string
	tmp bool
}

// readyWait bounds how long Start waits for the server to accept clients.
const readyWait = 30 * time.Second

// Start starts a server listening on addr (host:port; "" means
// 127.0.0.1 on a free port), storing JetStream data in dir ("" means a new
// temporary directory, removed by Shutdown). The host must be a loopback
// address. Errors name what failed: the address, the directory, or the
// server's start.
func Start(addr, dir string) (*Server, error) { return start(addr, dir, false) }

// StartExposed is Start on a non-loopback address too (an interface's
// address, never a wildcard): for servers that processes on other
// machines, or in other network namespaces, must reach. The server has no
// authentication: expose it only on a network you trust.
func StartExposed(addr, dir string) (*Server, error) { return start(addr, dir, true) }

func start(addr, dir string, exposed bool) (*Server, error) {
	host, port := "127.0.0.1", -1
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("nats: address %q: %w", addr, err)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("nats: address %q: bad port", addr)
		}
		ip := net.ParseIP(h)
		switch {
		case exposed && (ip == nil || ip.IsUnspecified()):
			return nil, fmt.Errorf("nats: address %q: want an interface's IP address", addr)
		case !exposed && h != "localhost" && (ip == nil || !ip.IsLoopback()):
			return nil, fmt.Errorf("nats: address %q: the embedded server listens on a loopback address only (--expose for another)", addr)
		}
		host, port = h, int(n)
		if port == 0 {
			port = -1
		}
	}
	tmp := dir == ""
	if tmp {
		d, err := os.MkdirTemp("", "lexbench-nats-")
		if err != nil {
			return nil, fmt.Errorf("nats: %w", err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("nats: store directory: %w", err)
	}
	opts := &server.Options{
		ServerName: "lexbench",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		// Loopback clients: the default 2 s write deadline is for slow
		// networks; a replica that catches up reads large chunks fast.
		WriteDeadline: 10 * time.Second,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		if tmp {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("nats: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(readyWait) {
		s.Shutdown()
		if tmp {
			os.RemoveAll(dir)
		}
		return nil, errors.New("nats: the embedded server did not start (is the port in use?)")
	}
	return &Server{s: s, dir: dir, tmp: tmp}, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:40213.
func (s *Server) URL() string { return s.s.ClientURL() }

// Dir is the JetStream store directory.
func (s *Server) Dir() string { return s.dir }

// Shutdown stops the server and waits for it; a temporary store is removed.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
	if s.tmp {
		os.RemoveAll(s.dir)
	}
}
