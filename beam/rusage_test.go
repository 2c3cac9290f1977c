package t2tbeam

import (
	"syscall"
	"time"
)

type syscallRusage syscall.Rusage

func getrusage(ru *syscallRusage) { syscall.Getrusage(syscall.RUSAGE_SELF, (*syscall.Rusage)(ru)) }

func (ru *syscallRusage) total() time.Duration {
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}
