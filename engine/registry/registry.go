// Package registry shares services between municipalities as CUE
// modules on OCI registries.
//
// A shared service is a CUE module (cue.mod/module.cue with a module
// path such as "land.hessen.example/kita@v1"). Publish puts a version
// into the configured registry with CUE's own module client
// (cuelang.org/go/mod/modregistry), so the cue command line reads the
// same registry, and signs it: a DSSE envelope over an in-toto
// statement naming the module's manifest digest, stored as an OCI
// referrer of that manifest (see sign.go). Fetch downloads a version,
// verifies it against the publishers an installation trusts for the
// module's prefix and keeps it in a local module cache; Load compiles a
// service that imports cached modules through load.Config.Registry,
// offline, and records it in a vendored form that engine.LoadFiles
// rebuilds without any registry.
//
// The spec language amtsform.dev/spec is never fetched: it belongs to
// the compiler (its bytes and engine.CompilerVersion are in every
// content hash), so a registry cannot substitute another language. It
// is placed under cue.mod/pkg of the service being loaded, as
// engine.LoadDir does, where modules fetched from a registry resolve it
// too. Shared modules therefore declare no dependency on it.
//
// Registry configuration follows CUE's: CUE_REGISTRY syntax with
// per-prefix mapping ("land.hessen.example=registry.example/cue,
// registry.cue.works"), "+insecure" allowed for loopback hosts only.
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelang.org/go/mod/modconfig"
	"cuelang.org/go/mod/modregistry"
	"cuelang.org/go/mod/module"
	"cuelang.org/go/mod/modzip"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Registry publishes and fetches module versions, and holds the local
// module cache.
type Registry struct {
	resolver modregistry.Resolver
	client   *modregistry.Client
	cache    string
}

// Config configures a Registry.
type Config struct {
	// CUERegistry is the registry configuration in CUE_REGISTRY syntax
	// (see "cue help registryconfig"). Empty means none: only the cache
	// is read, nothing is fetched.
	CUERegistry string
	// CacheDir is the module cache directory.
	CacheDir string
}

// Open returns a registry for cfg. It refuses "+insecure" for hosts
// other than loopback ones.
func Open(cfg Config) (*Registry, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("registry: no module cache directory")
	}
	spec := cfg.CUERegistry
	if spec == "" {
		spec = "none"
	}
	// Credentials come from where the cue tool finds them: its logins
	// (cue login) and the Docker/OCI credential configuration.
	res, err := modconfig.NewResolver(&modconfig.Config{CUERegistry: spec, ClientType: "amtsform"})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	for _, h := range res.AllHosts() {
		if h.Insecure && !loopback(h.Name) {
			return nil, fmt.Errorf("registry: %s: +insecure is only allowed for loopback hosts", h.Name)
		}
	}
	return &Registry{resolver: res, client: modregistry.NewClientWithResolver(res), cache: cfg.CacheDir}, nil
}

// New returns a registry over one OCI registry, with module paths as
// repository names (as modregistry.NewClient does), caching in cacheDir.
func New(reg ociregistry.Interface, cacheDir string) *Registry {
	res := single{reg}
	return &Registry{resolver: res, client: modregistry.NewClientWithResolver(res), cache: cacheDir}
}

type single struct{ r ociregistry.Interface }

func (s single) ResolveToRegistry(mpath, vers string) (modregistry.RegistryLocation, error) {
	return modregistry.RegistryLocation{Registry: s.r, Repository: mpath, Tag: vers}, nil
}

func loopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ParseRef splits "land.hessen.example/kita@v1.2.0" into a module
// version. The major version suffix of the path is implied by the
// version.
func ParseRef(ref string) (module.Version, error) {
	p, v, ok := strings.Cut(ref, "@")
	if !ok || v == "" {
		return module.Version{}, fmt.Errorf("%q: want MODULE@VERSION, e.g. land.hessen.example/kita@v1.2.0", ref)
	}
	if strings.Count(v, ".") == 0 { // "@v1": a major version only
		return module.Version{}, fmt.Errorf("%q: name a full version, e.g. %s@%s.0.0", ref, p, v)
	}
	major, _, _ := strings.Cut(v, ".")
	mv, err := module.NewVersion(p+"@"+major, v)
	if err != nil {
		return module.Version{}, fmt.Errorf("%q: %w", ref, err)
	}
	return mv, nil
}

// Publish puts the CUE module in dir into the registry as version
// (e.g. "v1.2.0") and signs it with signer. The module path is read from
// dir's cue.mod/module.cue.
func (r *Registry) Publish(ctx context.Context, dir, version string, signer *Signer) (module.Version, ociregistry.Digest, error) {
	mf, err := readModFile(filepath.Join(dir, "cue.mod", "module.cue"))
	if err != nil {
		return module.Version{}, "", err
	}
	mv, err := module.NewVersion(mf.QualifiedModule(), version)
	if err != nil {
		return module.Version{}, "", fmt.Errorf("publish %s: %w", dir, err)
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, mv, dir); err != nil {
		return mv, "", fmt.Errorf("publish %s: %w", dir, err)
	}
	if err := r.client.PutModule(ctx, mv, bytes.NewReader(zip.Bytes()), int64(zip.Len())); err != nil {
		return mv, "", fmt.Errorf("publish %v: %w", mv, err)
	}
	m, err := r.client.GetModule(ctx, mv)
	if err != nil {
		return mv, "", fmt.Errorf("publish %v: read back: %w", mv, err)
	}
	d := m.ManifestDigest()
	if signer != nil {
		if err := r.sign(ctx, mv, d, digest.FromBytes(zip.Bytes()), signer); err != nil {
			return mv, d, err
		}
	}
	return mv, d, nil
}

// sign attaches a signature to the module version's manifest d.
func (r *Registry) sign(ctx context.Context, mv module.Version, d, zipDigest ociregistry.Digest, signer *Signer) error {
	loc, err := r.resolver.ResolveToRegistry(mv.BasePath(), mv.Version())
	if err != nil {
		return err
	}
	rd, err := loc.Registry.GetManifest(ctx, loc.Repository, d)
	if err != nil {
		return fmt.Errorf("sign %v: %w", mv, err)
	}
	subject := rd.Descriptor()
	rd.Close()
	st, err := newStatement(mv.String(), d, Predicate{Module: mv.Path(), Version: mv.Version(), Zip: string(zipDigest)})
	if err != nil {
		return fmt.Errorf("sign %v: %w", mv, err)
	}
	env, err := signer.sign(ctx, st)
	if err != nil {
		return err
	}
	return pushReferrer(ctx, loc, subject, env)
}

// pushReferrer stores env as an OCI artifact whose subject is subject.
func pushReferrer(ctx context.Context, loc modregistry.RegistryLocation, subject ociregistry.Descriptor, env []byte) error {
	empty := []byte("{}")
	cfg := ociregistry.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: digest.FromBytes(empty), Size: 2}
	if _, err := loc.Registry.PushBlob(ctx, loc.Repository, cfg, bytes.NewReader(empty)); err != nil {
		return fmt.Errorf("sign: push config: %w", err)
	}
	layer := ociregistry.Descriptor{MediaType: EnvelopeMediaType, Digest: digest.FromBytes(env), Size: int64(len(env))}
	if _, err := loc.Registry.PushBlob(ctx, loc.Repository, layer, bytes.NewReader(env)); err != nil {
		return fmt.Errorf("sign: push signature: %w", err)
	}
	subj := ociregistry.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	man := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: EnvelopeMediaType,
		Config:       cfg,
		Layers:       []ociregistry.Descriptor{layer},
		Subject:      &subj,
	}
	man.SchemaVersion = 2
	data, err := json.Marshal(man)
	if err != nil {
		return err
	}
	if _, err := loc.Registry.PushManifest(ctx, loc.Repository, "", data, ocispec.MediaTypeImageManifest); err != nil {
		return fmt.Errorf("sign: push signature manifest: %w", err)
	}
	return nil
}

// Versions lists the versions of a module (path with major version) the
// registry holds.
func (r *Registry) Versions(ctx context.Context, mpath string) ([]string, error) {
	return r.client.ModuleVersions(ctx, mpath)
}

// Fetched is a verified module version in the cache.
type Fetched struct {
	Version module.Version
	// Manifest is the digest of the module's OCI manifest, as signed.
	Manifest string `json:"manifest"`
	// Zip is the digest of the module zip.
	Zip string `json:"zip"`
	// Signer is the id of the key that signed it.
	Signer string `json:"signer"`
	// Dir is the module's root in the cache.
	Dir string `json:"-"`
}

// Fetch downloads a module version unless the cache holds it, verifies
// it against trust and returns it. A cached version is verified again
// (offline) against trust, from the signature kept beside it.
func (r *Registry) Fetch(ctx context.Context, mv module.Version, trust Trust) (*Fetched, error) {
	keys := trust.Keys(mv.BasePath())
	dir := r.moduleDir(mv)
	if _, err := os.Stat(filepath.Join(dir, "src", "cue.mod", "module.cue")); err == nil {
		return r.verifyCached(mv, keys)
	}
	loc, err := r.resolver.ResolveToRegistry(mv.BasePath(), mv.Version())
	if err != nil {
		return nil, fmt.Errorf("%v: %w", mv, err)
	}
	manifest, mdesc, err := readManifest(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", mv, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%v: manifest: %w", mv, err)
	}
	if len(m.Layers) < 1 || m.Layers[0].MediaType != "application/zip" {
		return nil, fmt.Errorf("%v: the manifest is not a CUE module's", mv)
	}
	zdesc := m.Layers[0]
	zr, err := loc.Registry.GetBlob(ctx, loc.Repository, zdesc.Digest)
	if err != nil {
		return nil, fmt.Errorf("%v: module zip: %w", mv, err)
	}
	zip, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	zr.Close()
	if err != nil && strings.Contains(err.Error(), "digest mismatch") {
		// ociclient checks the digest while reading
		return nil, fmt.Errorf("%v: %w: the module zip has digest other than %s, which the manifest names", mv, ErrTampered, zdesc.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("%v: module zip: %w", mv, err)
	}
	if got := digest.FromBytes(zip); got != zdesc.Digest {
		return nil, fmt.Errorf("%v: %w: the module zip has digest %s, the manifest names %s", mv, ErrTampered, got, zdesc.Digest)
	}
	var env []byte
	for desc, err := range loc.Registry.Referrers(ctx, loc.Repository, mdesc.Digest, EnvelopeMediaType) {
		if err != nil {
			return nil, fmt.Errorf("%v: signatures: %w", mv, err)
		}
		b, err := readArtifact(ctx, loc, desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("%v: signature: %w", mv, err)
		}
		env = b
		if _, _, err := checkSignature(mv, env, keys, mdesc.Digest, zdesc.Digest); err == nil {
			break // a valid trusted signature; others are not needed
		}
	}
	if env == nil {
		return nil, fmt.Errorf("%v: %w: the registry holds no signature for manifest %s", mv, ErrUnsigned, mdesc.Digest)
	}
	_, signer, err := checkSignature(mv, env, keys, mdesc.Digest, zdesc.Digest)
	if err != nil {
		return nil, err
	}
	f := &Fetched{Version: mv, Manifest: string(mdesc.Digest), Zip: string(zdesc.Digest), Signer: signer, Dir: filepath.Join(dir, "src")}
	if err := r.store(mv, zip, manifest, env, f); err != nil {
		return nil, err
	}
	return f, nil
}

// checkSignature verifies env for mv: a trusted key signed it, and it
// names exactly manifest d (and zip z).
func checkSignature(mv module.Version, env []byte, keys []PublicKey, d, z ociregistry.Digest) (*Statement, string, error) {
	if len(keys) == 0 {
		_, _, by, _ := verifyEnvelope(context.Background(), env, nil)
		return nil, by, fmt.Errorf("%v: %w: the installation trusts no publisher for %s (signed by %s)", mv, ErrUntrusted, mv.BasePath(), by)
	}
	st, p, by, err := verifyEnvelope(context.Background(), env, keys)
	if err != nil {
		return nil, by, fmt.Errorf("%v: %w", mv, err)
	}
	ok := false
	for _, s := range st.GetSubject() {
		if s.GetName() == mv.String() && s.GetDigest()[d.Algorithm().String()] == d.Encoded() {
			ok = true
		}
	}
	if !ok || p.Zip != string(z) {
		return nil, by, fmt.Errorf("%v: %w: the signature by %s names another manifest than %s", mv, ErrTampered, by, d)
	}
	return st, by, nil
}

func readManifest(ctx context.Context, loc modregistry.RegistryLocation) ([]byte, ociregistry.Descriptor, error) {
	rd, err := loc.Registry.GetTag(ctx, loc.Repository, loc.Tag)
	if err != nil {
		return nil, ociregistry.Descriptor{}, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, 4<<20))
	if err != nil {
		return nil, ociregistry.Descriptor{}, err
	}
	desc := rd.Descriptor()
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, desc, fmt.Errorf("%w: the manifest has digest %s, the registry says %s", ErrTampered, got, desc.Digest)
	}
	return b, desc, nil
}

// readArtifact returns the first layer of the artifact manifest d.
func readArtifact(ctx context.Context, loc modregistry.RegistryLocation, d ociregistry.Digest) ([]byte, error) {
	rd, err := loc.Registry.GetManifest(ctx, loc.Repository, d)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(rd, 1<<20))
	rd.Close()
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil || len(m.Layers) == 0 {
		return nil, fmt.Errorf("not a signature artifact")
	}
	br, err := loc.Registry.GetBlob(ctx, loc.Repository, m.Layers[0].Digest)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	env, err := io.ReadAll(io.LimitReader(br, 1<<20))
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(env) != m.Layers[0].Digest {
		return nil, fmt.Errorf("%w: signature blob digest", ErrTampered)
	}
	return env, nil
}

// moduleDir is where the cache keeps a module version.
func (r *Registry) moduleDir(mv module.Version) string {
	return filepath.Join(r.cache, "modules", filepath.FromSlash(mv.BasePath())+"@"+mv.Version())
}

// store writes a verified version into the cache: the zip, manifest and
// signature as fetched, and the zip extracted under src.
func (r *Registry) store(mv module.Version, zip, manifest, env []byte, f *Fetched) error {
	dir := r.moduleDir(mv)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	zfile := filepath.Join(tmp, "module.zip")
	meta, _ := json.MarshalIndent(f, "", "  ")
	for name, b := range map[string][]byte{"module.zip": zip, "manifest.json": manifest, "signature.json": env, "fetched.json": meta} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return err
		}
	}
	if err := modzip.Unzip(filepath.Join(tmp, "src"), mv, zfile); err != nil {
		return fmt.Errorf("%v: %w", mv, err)
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// verifyCached checks a cached version again: its manifest names its
// zip, its signature names its manifest, and a trusted key made it.
func (r *Registry) verifyCached(mv module.Version, keys []PublicKey) (*Fetched, error) {
	dir := r.moduleDir(mv)
	read := func(n string) []byte { b, _ := os.ReadFile(filepath.Join(dir, n)); return b }
	manifest, zip, env := read("manifest.json"), read("module.zip"), read("signature.json")
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil || len(m.Layers) == 0 {
		return nil, fmt.Errorf("%v: cached manifest unreadable; remove %s", mv, dir)
	}
	if digest.FromBytes(zip) != m.Layers[0].Digest {
		return nil, fmt.Errorf("%v: %w: the cached zip in %s", mv, ErrTampered, dir)
	}
	d := digest.FromBytes(manifest)
	_, by, err := checkSignature(mv, env, keys, d, m.Layers[0].Digest)
	if err != nil {
		return nil, err
	}
	if err := sameTree(filepath.Join(dir, "src"), mv, filepath.Join(dir, "module.zip")); err != nil {
		return nil, fmt.Errorf("%v: %w: %v", mv, ErrTampered, err)
	}
	return &Fetched{Version: mv, Manifest: string(d), Zip: string(m.Layers[0].Digest), Signer: by, Dir: filepath.Join(dir, "src")}, nil
}

// sameTree checks that the extracted tree holds exactly the zip's files.
func sameTree(src string, mv module.Version, zipFile string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(src), "check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := modzip.Unzip(filepath.Join(tmp, "x"), mv, zipFile); err != nil {
		return err
	}
	want, err := treeHash(filepath.Join(tmp, "x"))
	if err != nil {
		return err
	}
	got, err := treeHash(src)
	if err != nil {
		return err
	}
	if want != got {
		return fmt.Errorf("the extracted files in %s differ from the signed zip", src)
	}
	return nil
}

func treeHash(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil)), err
}
