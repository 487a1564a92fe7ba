import FuzzerDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// SwiftPM links every executable with its `main` renamed to `<module>_main` (so tests can link
// it), which leaves libFuzzer's own `main` out; this `main` hands control to libFuzzer's driver,
// which then reads the usual libFuzzer flags (-max_total_time=60 -seed=1 CORPUS…).
exit(FuzzerDriverRun(CommandLine.argc, CommandLine.unsafeArgv) { data, size in fuzzOneInput(data, size) })
