package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkServeStart builds the binary and measures, on the embedded
// default, how long `serve` takes from exec to a 200 on /readyz, for a first
// start (empty data dir: migrations and the first admin) and a restart, and
// the resident memory once idle. Run:
//
//	go test ./cmd/loopdesk -run '^$' -bench ServeStart -benchtime 5x
func BenchmarkServeStart(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "loopdesk")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"first-start", "restart"} {
		b.Run(mode, func(b *testing.B) {
			var total time.Duration
			var rss float64
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				if mode == "restart" {
					cmd, _ := startServe(b, bin, dir)
					stopServe(b, cmd)
				}
				b.StartTimer()
				t0 := time.Now()
				cmd, base := startServe(b, bin, dir)
				waitReady(b, base)
				total += time.Since(t0)
				b.StopTimer()
				time.Sleep(2 * time.Second) // let start-up garbage be collected before reading RSS
				rss += rssMiB(b, cmd.Process.Pid)
				stopServe(b, cmd)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
			b.ReportMetric(rss/float64(b.N), "MiB-RSS-idle")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func startServe(b *testing.B, bin, dir string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "LOOPDESK_DATABASE_URL=", "LOOPDESK_REDIS_URL=", "LOOPDESK_ADMIN_PASSWORD=bench-password")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, m[1]
		}
	}
	b.Fatal("serve exited without printing its address")
	return nil, ""
}

func waitReady(b *testing.B, base string) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	b.Fatal("not ready within 20s")
}

func stopServe(b *testing.B, cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("serve did not exit cleanly: %v", err)
	}
}

func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
