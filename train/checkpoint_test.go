package train

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"t2t/unet"
)

// savedRun trains micro for 2 steps with a checkpoint in a fresh folder and
// returns the folder.
func savedRun(t *testing.T) string {
	t.Helper()
	c := micro()
	u, _ := unet.New(c, tensor.Float32)
	tr, err := NewTrainer(u, smallTrain(2), benchExamples(c, 3))
	if err != nil {
		t.Fatal(err)
	}
	tr.Dir = t.TempDir()
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return tr.Dir
}

// TestResumeOtherModel: a checkpoint keeps the model's config, and a
// trainer of a model of another config (here other rows, which no weight's
// shape shows) refuses it; the checkpoint gives its config back (issue 17,
// item 4).
func TestResumeOtherModel(t *testing.T) {
	dir := savedRun(t)
	c := micro()
	c.Rows = 8
	u, _ := unet.New(c, tensor.Float32)
	tr, err := NewTrainer(u, smallTrain(4), benchExamples(c, 3))
	if err != nil {
		t.Fatal(err)
	}
	tr.Dir = dir
	if ok, err := tr.Resume(); err == nil || ok {
		t.Fatalf("resume a checkpoint of 4 rows into a model of 8: %v %v", ok, err)
	} else {
		t.Log(err)
	}
	got, ok, err := CheckpointConfig(dir)
	if err != nil || !ok || got.Rows != micro().Rows {
		t.Fatalf("CheckpointConfig: %+v %v %v", got, ok, err)
	}
	if _, ok, err := CheckpointConfig(t.TempDir()); ok || err != nil {
		t.Fatalf("CheckpointConfig of a run without a checkpoint: %v %v", ok, err)
	}
}

// TestResumeStates: every state a state folder can be left in. No folder,
// an empty one, or one holding only the temporary file of an interrupted
// first Save: a fresh start. A checkpoint with a cut temporary file beside
// it (a Save interrupted later): the checkpoint. A folder of other files
// (an older version's, or a checkpoint deleted): an error, not a silent
// restart; and a corrupt checkpoint an error (issue 17, item 5).
func TestResumeStates(t *testing.T) {
	c := micro()
	resume := func(dir string) (bool, int, error) {
		u, _ := unet.New(c, tensor.Float32)
		tr, err := NewTrainer(u, smallTrain(4), benchExamples(c, 3))
		if err != nil {
			t.Fatal(err)
		}
		tr.Dir = dir
		ok, err := tr.Resume()
		return ok, tr.Step, err
	}
	state := func(dir string) string { return filepath.Join(dir, stateDir) }

	dir := t.TempDir()
	if ok, _, err := resume(dir); ok || err != nil {
		t.Errorf("no state folder: %v %v", ok, err)
	}
	os.MkdirAll(state(dir), 0o755)
	if ok, _, err := resume(dir); ok || err != nil {
		t.Errorf("empty state folder: %v %v", ok, err)
	}
	os.WriteFile(filepath.Join(state(dir), checkpointTmp), []byte("partial"), 0o644)
	if ok, _, err := resume(dir); ok || err != nil {
		t.Errorf("only a temporary file: %v %v", ok, err)
	}

	dir = savedRun(t)
	b, err := os.ReadFile(filepath.Join(state(dir), checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state(dir), checkpointTmp), b[:len(b)/2], 0o644)
	if ok, step, err := resume(dir); !ok || err != nil || step != 2 {
		t.Errorf("checkpoint and a cut temporary file: %v at step %d, %v", ok, step, err)
	}

	for _, files := range [][]string{{"state.json"}, {"weights.safetensors", "adam_m.safetensors"}, {checkpointTmp, "notes.txt"}} {
		dir := t.TempDir()
		os.MkdirAll(state(dir), 0o755)
		for _, f := range files {
			os.WriteFile(filepath.Join(state(dir), f), []byte("{}"), 0o644)
		}
		if ok, _, err := resume(dir); err == nil {
			t.Errorf("state folder of %v: %v, no error", files, ok)
		}
	}

	for _, n := range []int{0, 8, 100, len(b) - 1} {
		dir := t.TempDir()
		os.MkdirAll(state(dir), 0o755)
		os.WriteFile(filepath.Join(state(dir), checkpointFile), b[:n], 0o644)
		if ok, _, err := resume(dir); err == nil {
			t.Errorf("checkpoint cut at %d bytes: %v, no error", n, ok)
		}
	}
}

// crashEnv names the folder a child process of TestCrashResume trains in.
const crashEnv = "T2T_TRAIN_CRASH_DIR"

// crashRun is the run TestCrashResume kills: Tiny, a checkpoint every step.
func crashRun(t testing.TB) *Trainer {
	c := unet.Tiny()
	u, err := unet.New(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	tc := smallTrain(24)
	tc.CheckpointEvery = 1
	tr, err := NewTrainer(u, tc, benchExamples(c, 6))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// crashChild resumes the run in dir and trains it to the end, saying on
// stdout where it resumed and every step it finished.
func crashChild(t *testing.T, dir string) {
	tr := crashRun(t)
	tr.Dir = dir
	if _, err := tr.Resume(); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("resumed %d\n", tr.Step)
	if err := tr.Run(context.Background(), func(p Progress) { fmt.Printf("step %d\n", p.Step) }); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// TestCrashResume kills a training run with a checkpoint every step at
// random moments (SIGKILL, from inside the step or inside Save) and
// resumes it each time: it never loses a checkpoint it finished (the run
// resumes at or after the last step that a later step shows saved) and
// ends with the weights, moments and EMA of an uninterrupted run, bit for
// bit (issue 17, items 4 and 5).
func TestCrashResume(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("kills 40 training processes")
	}
	straight := crashRun(t)
	if err := straight.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 17))
	kills, inSave, runs := 0, 0, 0
	for kills < 40 {
		dir := t.TempDir()
		saved := 0 // the last step whose checkpoint is known complete
		for {
			runs++
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashResume$")
			cmd.Env = append(os.Environ(), crashEnv+"="+dir)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			first, ok := <-lines
			if !ok {
				t.Fatalf("child said nothing: %v", cmd.Wait())
			}
			var at int
			if _, err := fmt.Sscanf(first, "resumed %d", &at); err != nil {
				t.Fatalf("child: %q", first)
			}
			if at < saved {
				t.Fatalf("resumed at step %d, but step %d's checkpoint was complete: a checkpoint was lost", at, saved)
			}
			killed := false
			timer := time.AfterFunc(time.Duration(rng.IntN(600))*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
			for l := range lines {
				if s, ok := strings.CutPrefix(l, "step "); ok {
					n, _ := strconv.Atoi(s)
					saved = max(saved, n-1) // step n ran after step n-1 was saved
				} else {
					t.Fatalf("child: %q", l)
				}
			}
			timer.Stop()
			err = cmd.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
				killed = true
			} else if err != nil {
				t.Fatalf("child: %v", err)
			}
			if !killed {
				break
			}
			kills++
			if _, err := os.Stat(filepath.Join(dir, stateDir, checkpointTmp)); err == nil {
				inSave++ // killed between the temporary file's creation and its rename
			}
		}
		compareCheckpoint(t, dir, straight)
	}
	t.Logf("%d kills (%d inside Save, the temporary checkpoint left behind), %d child runs; every resumed run ended bit-identical to the uninterrupted one", kills, inSave, runs)
	if inSave == 0 {
		t.Error("no kill landed inside Save")
	}
}

// compareCheckpoint checks that the final checkpoint in dir holds the
// weights, moments and EMA of tr, bit for bit.
func compareCheckpoint(t *testing.T, dir string, tr *Trainer) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, stateDir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := readCheckpoint(bytes.NewReader(b), "final", unet.ParamShapes(tr.params), tr.Pred.Base().Config, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.state.Step != tr.Config.Steps {
		t.Fatalf("final checkpoint at step %d", c.state.Step)
	}
	for i, p := range tr.params {
		for k, want := range [][]float32{p.Float32s(), tr.m[i], tr.v[i], tr.ema[i]} {
			got := c.tensor[groups[k]+"/"+p.Name]
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("%s/%s[%d]: %g resumed, %g straight", groups[k], p.Name, j, got[j], want[j])
				}
			}
		}
	}
	for i, l := range tr.Losses {
		if c.state.Losses[i] != l {
			t.Fatalf("loss %d: %g resumed, %g straight", i, c.state.Losses[i], l)
		}
	}
}
