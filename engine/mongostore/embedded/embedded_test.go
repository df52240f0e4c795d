package embedded

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func ping(t *testing.T, uri string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	if _, err := c.Database("x").Collection("c").InsertOne(ctx, bson.D{{Key: "a", Value: 1}}); err != nil {
		t.Fatalf("%s: %v", uri, err)
	}
}

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URI(), "mongodb://%2F") {
		t.Fatalf("want a Unix socket URI, got %s", s.URI())
	}
	ping(t, s.URI())
	if _, err := Start(dir, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second server on the same directory: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	// The directory is free again, and the data is there.
	s, err = Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := os.Stat(filepath.Join(dir, "x.sqlite")); err != nil {
		t.Fatal(err)
	}
}

func TestLongPathUsesLoopbackTCP(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	s, err := Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.URI(), "mongodb://127.0.0.1:") {
		t.Fatalf("want loopback TCP, got %s", s.URI())
	}
	ping(t, s.URI())
}
