#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds (vDSO, cheap enough to read per event).
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func sleepSeconds(_ s: Double) { usleep(UInt32(max(0, min(s, 3600)) * 1_000_000)) }
