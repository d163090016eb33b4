package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultCredentialsOnlyOnLoopback(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
		defUser bool
	}{
		{"defaults", Config{}, "", true},
		{"loopback v4", Config{Listen: "127.0.0.1:9000"}, "", true},
		{"loopback v6", Config{Listen: "[::1]:9000"}, "", true},
		{"localhost", Config{Listen: "localhost:9000"}, "", true},
		{"all interfaces", Config{Listen: ":8080"}, "refusing to listen", true},
		{"public address", Config{Listen: "0.0.0.0:8080"}, "refusing to listen", true},
		{"explicitly allowed", Config{Listen: "0.0.0.0:8080", AllowDefaultCredentials: true}, "", true},
		{"configured users", Config{Listen: "0.0.0.0:8080", Users: []User{{Name: "alice", Password: "pw"}}}, "", false},
		{"configured ditto/ditto", Config{Listen: "0.0.0.0:8080", Users: []User{DefaultUser}}, "refusing to listen", true},
		{"user without password", Config{Users: []User{{Name: "alice"}}}, "needs a name and a password", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, defUser, err := tc.cfg.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if defUser != tc.defUser {
				t.Errorf("default user %v, want %v", defUser, tc.defUser)
			}
			if cfg.Listen == "" || cfg.DataDir == "" || len(cfg.Users) == 0 {
				t.Errorf("defaults not filled: %+v", cfg)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"listen":"127.0.0.1:9999","users":[{"name":"a","password":"b"}],"webSocket":{"pingInterval":"15s"}}`), 0o600)
	cfg, err := LoadConfigFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.Users[0].Name != "a" || time.Duration(cfg.WebSocket.PingInterval) != 15*time.Second {
		t.Errorf("loaded %+v", cfg)
	}
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, []byte(`{"lisen":"127.0.0.1:9999"}`), 0o600)
	if _, err := LoadConfigFile(typo); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("unknown field: %v", err)
	}
	badDuration := filepath.Join(dir, "duration.json")
	os.WriteFile(badDuration, []byte(`{"webSocket":{"pingInterval":30}}`), 0o600)
	if _, err := LoadConfigFile(badDuration); err == nil {
		t.Error("a number as duration was accepted")
	}
}

// TestREADMEConfigExample keeps the README's complete config example valid.
func TestREADMEConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "A complete config file")
	_, rest, ok2 := strings.Cut(rest, "```json\n")
	example, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no complete config example")
	}
	path := filepath.Join(t.TempDir(), "example.json")
	os.WriteFile(path, []byte(example), 0o600)
	cfg, err := LoadConfigFile(path)
	if err != nil {
		t.Fatalf("the README's example does not load: %v", err)
	}
	if _, _, err := cfg.withDefaults(); err != nil {
		t.Fatalf("the README's example is refused: %v", err)
	}
}

// TestUnreachableMongoDBFailsFast: a configured but unreachable MongoDB
// stops the start with a clear error instead of a gateway that hangs.
func TestUnreachableMongoDBFailsFast(t *testing.T) {
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		MongoDB: MongoDBConfig{URI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", ConnectTimeout: Duration(time.Second)}}
	_, err := New(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "MongoDB") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("start with an unreachable MongoDB: %v", err)
	}
}
