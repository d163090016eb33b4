package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"
)

// Default listen address and data directory: loopback only, so that the
// default credentials never face a network.
const (
	DefaultListen  = "127.0.0.1:8080"
	DefaultDataDir = "data"
)

// DefaultUser is the user that exists when none is configured, as in Ditto's
// default deployment: ditto / ditto.
var DefaultUser = User{Name: "ditto", Password: "ditto"}

// Config is the gateway's configuration: the --listen and --data flags and
// the JSON config file. Zero values are the documented defaults.
type Config struct {
	// Listen is the TCP address to serve on (default 127.0.0.1:8080).
	Listen string `json:"listen"`
	// DataDir holds the embedded store's files (default ./data).
	DataDir string `json:"dataDir"`
	// Users are the HTTP Basic users; user U has the subject "nginx:U".
	// Empty: the default user ditto/ditto, with a warning.
	Users []User `json:"users"`
	// AllowDefaultCredentials lets the default user serve on a non-loopback
	// address; without it the gateway refuses to start there.
	AllowDefaultCredentials bool `json:"allowDefaultCredentials"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `json:"logLevel"`
	// MaxThingBytes bounds a thing's JSON (default 102400, Ditto's 100 kB).
	MaxThingBytes int `json:"maxThingBytes"`
	// WebSocket tunes /ws/2 sessions.
	WebSocket WebSocketConfig `json:"webSocket"`
	// HTTP tunes /api/2.
	HTTP HTTPConfig `json:"http"`
}

// User is one HTTP Basic user.
type User struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// WebSocketConfig tunes sessions; zero values are the gateway package's defaults.
type WebSocketConfig struct {
	// QueueMessages and QueueBytes bound a session's outbound queue (default
	// 1024 messages, 8 MiB); a session that exceeds them is closed as too slow.
	QueueMessages int `json:"queueMessages"`
	QueueBytes    int `json:"queueBytes"`
	// MaxMessageBytes is the largest inbound message (default 256000, Ditto's 250 kB).
	MaxMessageBytes int `json:"maxMessageBytes"`
	// PingInterval is how often the server pings (default 30s).
	PingInterval Duration `json:"pingInterval"`
}

// HTTPConfig tunes the HTTP API.
type HTTPConfig struct {
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64 `json:"maxBodyBytes"`
}

// Duration is a time.Duration written as a string such as "30s" in JSON.
type Duration time.Duration

// UnmarshalJSON parses "30s", "250ms", "1m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadConfigFile reads a JSON config file; unknown fields are an error so
// that a typo does not silently fall back to a default.
func LoadConfigFile(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// withDefaults fills the zero values and checks the rules the defaults
// depend on.
func (c Config) withDefaults() (Config, bool, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	usesDefaultUser := len(c.Users) == 0
	if usesDefaultUser {
		c.Users = []User{DefaultUser}
	}
	for _, u := range c.Users {
		if u.Name == "" || u.Password == "" {
			return c, false, fmt.Errorf("every user needs a name and a password")
		}
		if u == DefaultUser {
			usesDefaultUser = true
		}
	}
	if usesDefaultUser && !c.AllowDefaultCredentials && !isLoopback(c.Listen) {
		return c, false, fmt.Errorf("refusing to listen on %s with the default credentials ditto/ditto: configure users, or set allowDefaultCredentials", c.Listen)
	}
	return c, usesDefaultUser, nil
}

// isLoopback reports whether addr's host is a loopback address or localhost.
// An empty host means every interface, which is not loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
