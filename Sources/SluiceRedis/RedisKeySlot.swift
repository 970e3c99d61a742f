/// The Redis Cluster hash slot of a key: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the
/// key, or of its hash tag, modulo 16384. The hash tag is what lies between the first `{` and the
/// first `}` after it, when that is not empty; keys with the same tag are in the same slot.
public enum RedisKeySlot {
    public static let count = 16384

    /// The slot of `key`. Any thread.
    public static func of(_ key: String) -> Int {
        var utf8 = Array(key.utf8)
        if let open = utf8.firstIndex(of: UInt8(ascii: "{")),
           let close = utf8[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            utf8 = Array(utf8[(open + 1)..<close])
        }
        return Int(crc16(utf8)) % count
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
