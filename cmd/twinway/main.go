// Command twinway runs the gateway: Eclipse Ditto's protocol over WebSocket
// (/ws/2) and HTTP (/api/2) on an embedded store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twinway/twinway/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "twinway:", err)
		os.Exit(1)
	}
}

// run parses flags and environment, serves until SIGINT/SIGTERM, then shuts
// down gracefully.
func run(args []string) error {
	fs := flag.NewFlagSet("twinway", flag.ContinueOnError)
	listen := fs.String("listen", os.Getenv("TWINWAY_LISTEN"), "address to listen on (env TWINWAY_LISTEN; default "+server.DefaultListen+")")
	data := fs.String("data", os.Getenv("TWINWAY_DATA"), "data directory of the embedded store (env TWINWAY_DATA; default ./"+server.DefaultDataDir+")")
	configFile := fs.String("config", os.Getenv("TWINWAY_CONFIG"), "JSON config file (env TWINWAY_CONFIG)")
	pprofAddr := fs.String("pprof", os.Getenv("TWINWAY_PPROF"), "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (env TWINWAY_PPROF; default off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg server.Config
	if *configFile != "" {
		var err error
		if cfg, err = server.LoadConfigFile(*configFile); err != nil {
			return err
		}
	}
	// Flags and environment win over the file.
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	if uri := os.Getenv("TWINWAY_MONGODB_URI"); uri != "" {
		cfg.MongoDB.URI = uri
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	if *pprofAddr != "" {
		go servePprof(*pprofAddr, log)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, srv.Shutdown(shutdownCtx))
}

func logLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// servePprof serves the profiler on its own listener, never on the gateway's
// address, so it is exposed only where the operator asks for it.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiler listening", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("profiler stopped", "err", err)
	}
}
