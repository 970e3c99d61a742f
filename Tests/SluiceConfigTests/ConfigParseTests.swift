import SluiceFilterAPI
import Testing

@Suite("ConfigParse: durations and sizes")
struct ConfigParseTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)),
        ("30s", .seconds(30)),
        ("1.5s", .milliseconds(1500)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3600)),
        ("100us", .microseconds(100)),
        ("100µs", .microseconds(100)),
        ("7ns", .nanoseconds(7)),
        ("1m30s", .seconds(90)),
        ("1h0.5m", .seconds(3630)),
        ("0s", .zero),
        ("  2s ", .seconds(2)),
        ("0.000000001s", .nanoseconds(1)),
    ])
    func validDurations(text: String, expected: Duration) {
        #expect(ConfigParse.duration(text) == expected)
    }

    @Test(arguments: ["", "30", "0", "1.5", "s", "-1s", "1.s", ".5s", "1 s", "1x", "1sec", "1S", "1h 30m", "ms", "1e3s",
                      "99999999999999999999h", "3000000h"])
    func invalidDurations(text: String) {
        #expect(ConfigParse.duration(text) == nil)
    }

    @Test(arguments: [
        ("256KiB", 262_144),
        ("1MiB", 1_048_576),
        ("1GiB", 1_073_741_824),
        ("1TiB", 1_099_511_627_776),
        ("512B", 512),
        ("64KB", 64_000),
        ("1MB", 1_000_000),
        ("2GB", 2_000_000_000),
        ("1.5KiB", 1536),
        ("10 MiB", 10_485_760),
        ("4096", 4096),
        ("0", 0),
    ])
    func validSizes(text: String, expected: Int) {
        #expect(ConfigParse.size(text) == expected)
    }

    @Test(arguments: ["", "KiB", "1.5", "1.5B", "-1", "1kb", "1Kb", "1K", "1 KiB B", "1XB", "0x10",
                      "99999999999999999999", "9999999999TiB"])
    func invalidSizes(text: String) {
        #expect(ConfigParse.size(text) == nil)
    }

    @Test func durationsPrintInTheLargestWholeUnit() {
        #expect(ConfigParse.durationText(.seconds(3600)) == "1h")
        #expect(ConfigParse.durationText(.seconds(90)) == "90s")
        #expect(ConfigParse.durationText(.milliseconds(1500)) == "1500ms")
        #expect(ConfigParse.durationText(.microseconds(3)) == "3us")
        #expect(ConfigParse.durationText(.zero) == "0s")
        #expect(ConfigParse.durationText(.seconds(-2)) == "-2s")
    }

    @Test func sizesPrintInTheLargestWholeUnit() {
        #expect(ConfigParse.sizeText(32_768) == "32KiB")
        #expect(ConfigParse.sizeText(10_485_760) == "10MiB")
        #expect(ConfigParse.sizeText(64_000) == "64KB")
        #expect(ConfigParse.sizeText(100) == "100B")
        #expect(ConfigParse.sizeText(0) == "0B")
    }

    @Test func printedValuesReadBack() {
        for duration in [Duration.seconds(7200), .milliseconds(1), .nanoseconds(12345), .seconds(61)] {
            #expect(ConfigParse.duration(ConfigParse.durationText(duration)) == duration)
        }
        for size in [1, 1000, 1024, 1_000_000, 3 << 30, 12345] {
            #expect(ConfigParse.size(ConfigParse.sizeText(size)) == size)
        }
    }
}
