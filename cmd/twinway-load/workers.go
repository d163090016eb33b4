package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// dial opens an authenticated WebSocket session.
func dial(ctx context.Context, o options) (*websocket.Conn, error) {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(o.user, o.password)
	h := http.Header{"Authorization": {req.Header.Get("Authorization")}}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+o.addr+"/ws/2", h)
	return conn, err
}

// modifyCommand is a modify of thing i's sensor value.
func modifyCommand(o options, i, n int, value string) []byte {
	ns, name, _ := strings.Cut(thingID(o, i), ":")
	acks := ""
	if o.acks {
		acks = `,"requested-acks":["twin-persisted"]`
	}
	return fmt.Appendf(nil, `{"topic":"%s/%s/things/twin/commands/modify","headers":{"correlation-id":"%d-%d"%s},"path":"/features/sensor/properties/value","value":%s}`,
		ns, name, i, n, acks, value)
}

// modifyWorker sends modify commands over one WebSocket, one at a time, and
// times each until its response.
func modifyWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	conn, err := dial(ctx, o)
	if err != nil {
		return nil, 1, err
	}
	defer conn.Close()
	var lat []time.Duration
	errs := 0
	var firstErr error
	var resp struct {
		Status int `json:"status"`
	}
	for n := 0; ctx.Err() == nil && budget.take(); n++ {
		start := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, modifyCommand(o, i, n, fmt.Sprint(n))); err != nil {
			return lat, errs + 1, err
		}
		_, data, err := conn.ReadMessage()
		if err != nil {
			return lat, errs + 1, err
		}
		lat = append(lat, time.Since(start))
		if json.Unmarshal(data, &resp) != nil || resp.Status/100 != 2 {
			errs++
			if firstErr == nil {
				firstErr = errors.New(string(data))
			}
		}
	}
	return lat, errs, firstErr
}

// readWorker GETs one thing repeatedly over a keep-alive connection.
func readWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	url := "http://" + o.addr + "/api/2/things/" + thingID(o, i)
	var lat []time.Duration
	errs := 0
	var firstErr error
	for ctx.Err() == nil && budget.take() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.SetBasicAuth(o.user, o.password)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return lat, errs + 1, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			errs++
			if firstErr == nil {
				firstErr = errors.New(resp.Status)
			}
		}
	}
	return lat, errs, firstErr
}
