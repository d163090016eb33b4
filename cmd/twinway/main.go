// Command twinway runs the gateway: Eclipse Ditto's protocol over WebSocket
// (/ws/2) and HTTP (/api/2) on an embedded store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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
