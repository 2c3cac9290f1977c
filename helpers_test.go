package t2t_test

import "time"

func unixMicro(us int64) time.Time { return time.UnixMicro(us) }
