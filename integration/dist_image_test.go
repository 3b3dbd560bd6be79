package integration

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"tlsfront/internal/itest"
)

// dockerInstructions parses a Dockerfile/Containerfile into its instructions
// (continuation lines joined, comments and blank lines dropped, runs of
// spaces folded), each as "KEYWORD args".
func dockerInstructions(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, l := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		out = append(out, strings.Join(strings.Fields(cur), " "))
		cur = ""
	}
	return out
}

// runtimeInstructions are those that shape how a container of the image
// runs, after the last FROM.
func runtimeInstructions(all []string) []string {
	var out []string
	for _, in := range all {
		kw, _, _ := strings.Cut(in, " ")
		switch kw {
		case "FROM":
			out = nil
		case "USER", "ENV", "EXPOSE", "VOLUME", "HEALTHCHECK", "ENTRYPOINT", "CMD", "STOPSIGNAL", "WORKDIR", "LABEL":
			out = append(out, in)
		}
	}
	return out
}

// TestContainerfileMatchesDockerfile: the release image (packaging/
// Containerfile, built by dist.sh from its static binary) and the
// Dockerfile's image run alike: the same user, environment, ports, volume,
// HEALTHCHECK, entrypoint and command, the state folder owned by that
// user, and the binary built with the same flags.
func TestContainerfileMatchesDockerfile(t *testing.T) {
	root := itest.ModuleRoot(t)
	docker := dockerInstructions(t, filepath.Join(root, "Dockerfile"))
	release := dockerInstructions(t, filepath.Join(root, "packaging", "Containerfile"))
	if got, want := strings.Join(runtimeInstructions(release), "\n"), strings.Join(runtimeInstructions(docker), "\n"); got != want {
		t.Errorf("runtime instructions differ:\npackaging/Containerfile:\n%s\nDockerfile:\n%s", got, want)
	}
	if len(runtimeInstructions(docker)) < 7 {
		t.Fatalf("the Dockerfile's final stage has only %v", runtimeInstructions(docker))
	}
	if release[0] != "FROM scratch" {
		t.Errorf("packaging/Containerfile starts with %q, want FROM scratch", release[0])
	}
	for _, want := range []string{
		"COPY tlsfront /tlsfront",
		"COPY --chown=65532:65532 state /var/lib/tlsfront",
		"COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
	} {
		if !contains(release, want) {
			t.Errorf("packaging/Containerfile lacks %q", want)
		}
	}
	if !contains(docker, "COPY --from=build --chown=65532:65532 /out/state /var/lib/tlsfront") {
		t.Errorf("the Dockerfile no longer gives /var/lib/tlsfront to 65532: update packaging/Containerfile too")
	}

	// The binary: dist.sh's flags are the Dockerfile's.
	dist, err := os.ReadFile(filepath.Join(root, "scripts", "dist.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ldflags="-s -w -X main.version=${VERSION}"`,
		`CGO_ENABLED=0 GOOS=linux GOARCH="$arch"`,
		`go build -trimpath -buildvcs=false -ldflags="$ldflags"`,
	} {
		if !strings.Contains(string(dist), want) {
			t.Errorf("scripts/dist.sh lacks %q", want)
		}
	}
	df, _ := os.ReadFile(filepath.Join(root, "Dockerfile"))
	for _, want := range []string{`-ldflags="-s -w -X main.version=${VERSION}"`, "CGO_ENABLED=0 go build -trimpath -buildvcs=false"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("the Dockerfile lacks %q: keep it and scripts/dist.sh in step", want)
		}
	}
}

// ociArchive is what an image archive from dist.sh holds.
type ociArchive struct {
	RefName      string
	ManifestType string
	LayerDigests []string
	Config       struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User         string
			Env          []string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			Entrypoint   []string
			Cmd          []string
			Healthcheck  *struct {
				Test                           []string
				Interval, Timeout, StartPeriod int64
				Retries                        int
			}
		} `json:"config"`
	}
	// Files of the single layer: path -> "mode uid:gid sha256" (no sha for folders).
	Files map[string]string
}

// readOCIArchive reads an OCI image layout tarball: index, manifest,
// config and the layers' files.
func readOCIArchive(t *testing.T, path string) *ociArchive {
	t.Helper()
	blobs := map[string][]byte{}
	var index []byte
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch name := strings.TrimPrefix(h.Name, "./"); {
		case name == "index.json":
			index = data
		case strings.HasPrefix(name, "blobs/sha256/"):
			blobs["sha256:"+strings.TrimPrefix(name, "blobs/sha256/")] = data
		}
	}
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	}
	var idx struct{ Manifests []descriptor }
	if err := json.Unmarshal(index, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("%s: index.json %s (%v): want one manifest", path, index, err)
	}
	var man struct {
		Config descriptor
		Layers []descriptor
	}
	if err := json.Unmarshal(blobs[idx.Manifests[0].Digest], &man); err != nil {
		t.Fatalf("%s: manifest: %v", path, err)
	}
	a := &ociArchive{RefName: idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"],
		ManifestType: idx.Manifests[0].MediaType, Files: map[string]string{}}
	if err := json.Unmarshal(blobs[man.Config.Digest], &a.Config); err != nil {
		t.Fatalf("%s: config: %v", path, err)
	}
	for _, l := range man.Layers {
		a.LayerDigests = append(a.LayerDigests, l.Digest)
		zr, err := gzip.NewReader(strings.NewReader(string(blobs[l.Digest])))
		if err != nil {
			t.Fatalf("%s: layer %s: %v", path, l.Digest, err)
		}
		lt := tar.NewReader(zr)
		for {
			h, err := lt.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: layer %s: %v", path, l.Digest, err)
			}
			entry := fmt.Sprintf("%v %d:%d", h.FileInfo().Mode(), h.Uid, h.Gid)
			if h.Typeflag == tar.TypeReg {
				tmp := filepath.Join(t.TempDir(), "f")
				data, _ := io.ReadAll(lt)
				if err := os.WriteFile(tmp, data, 0o600); err != nil {
					t.Fatal(err)
				}
				entry += " " + fileSHA256(t, tmp)
			}
			a.Files["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = entry
		}
	}
	return a
}

// checkImage: each archive holds the image of its architecture, made of
// the binary dist.sh built (nothing else but a CA bundle and the user
// files), configured as the Dockerfile says; then the amd64 one runs in
// podman (dist_podman_test.go).
func checkImage(t *testing.T, b *distBuild) {
	if !b.Image {
		t.Skip("the image was not built: podman not found")
	}
	root := itest.ModuleRoot(t)
	docker := runtimeInstructions(dockerInstructions(t, filepath.Join(root, "Dockerfile")))
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			a := readOCIArchive(t, b.archive(arch))
			if a.RefName != "localhost/tlsfront:"+b.Version {
				t.Errorf("image name %q, want localhost/tlsfront:%s", a.RefName, b.Version)
			}
			// HEALTHCHECK lives only in Docker's config format.
			if a.ManifestType != "application/vnd.docker.distribution.manifest.v2+json" {
				t.Errorf("manifest type %q: HEALTHCHECK needs the Docker format", a.ManifestType)
			}
			if a.Config.Architecture != arch || a.Config.OS != "linux" {
				t.Errorf("image platform %s/%s, want linux/%s", a.Config.OS, a.Config.Architecture, arch)
			}
			if len(a.LayerDigests) != 1 {
				t.Errorf("%d layers, want one", len(a.LayerDigests))
			}
			checkImageConfig(t, a, docker)
			var paths []string
			for p := range a.Files {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			want := "/etc /etc/group /etc/passwd /etc/ssl /etc/ssl/certs /etc/ssl/certs/ca-certificates.crt /tlsfront /var /var/lib /var/lib/tlsfront"
			if got := strings.Join(paths, " "); got != want {
				t.Errorf("the image holds %s\nwant %s", got, want)
			}
			if got, want := a.Files["/tlsfront"], "-rwxr-xr-x 0:0 "+b.Sums[filepath.Base(b.binary(arch))]; got != want {
				t.Errorf("/tlsfront in the image: %q, want the released binary %q", got, want)
			}
			if got := a.Files["/var/lib/tlsfront"]; !strings.HasPrefix(got, "drwxr-xr-x 65532:65532") {
				t.Errorf("/var/lib/tlsfront in the image: %q, want a folder of 65532:65532", got)
			}
		})
	}
	t.Run("podman", func(t *testing.T) { runReleaseImage(t, b) })
	t.Run("podman Dockerfile", func(t *testing.T) { runDockerfileImage(t, b) })
}

// checkImageConfig compares the image's config with the Dockerfile's
// runtime instructions, one by one.
func checkImageConfig(t *testing.T, a *ociArchive, docker []string) {
	t.Helper()
	c := a.Config.Config
	var ports, vols []string
	for p := range c.ExposedPorts {
		ports = append(ports, strings.TrimSuffix(p, "/tcp"))
	}
	for v := range c.Volumes {
		vols = append(vols, v)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ports))) // "8443 8080", as written
	jsonList := func(l []string) string { b, _ := json.Marshal(l); return strings.ReplaceAll(string(b), `","`, `", "`) }
	got := map[string]string{
		"USER":       c.User,
		"EXPOSE":     strings.Join(ports, " "),
		"VOLUME":     jsonList(vols),
		"ENTRYPOINT": jsonList(c.Entrypoint),
		"CMD":        jsonList(c.Cmd),
	}
	for _, in := range docker {
		kw, arg, _ := strings.Cut(in, " ")
		switch kw {
		case "ENV":
			if !contains(c.Env, arg) {
				t.Errorf("image environment %v lacks the Dockerfile's %s", c.Env, arg)
			}
		case "HEALTHCHECK":
			h := c.Healthcheck
			if h == nil {
				t.Errorf("the image has no HEALTHCHECK (the Dockerfile: %s)", arg)
				continue
			}
			m := regexp.MustCompile(`^--interval=(\d+)s --timeout=(\d+)s --start-period=(\d+)s --retries=(\d+) CMD (\[.*\])$`).FindStringSubmatch(arg)
			if m == nil {
				t.Errorf("cannot read the Dockerfile's HEALTHCHECK %q", arg)
				continue
			}
			gotHC := fmt.Sprintf("%d %d %d %d %s", h.Interval/1e9, h.Timeout/1e9, h.StartPeriod/1e9, h.Retries, jsonList(h.Test[1:]))
			if want := strings.Join(m[1:], " "); h.Test[0] != "CMD" || gotHC != want {
				t.Errorf("image HEALTHCHECK %v %s, the Dockerfile's %s", h.Test[0], gotHC, want)
			}
		default:
			if got[kw] != arg {
				t.Errorf("image %s is %q, the Dockerfile's %q", kw, got[kw], arg)
			}
		}
	}
}
