import CLibevent

/// OpenSSL's digests, for code above the C edge. Any thread; pure.
public enum Digest {
    /// SHA-1 of `bytes` as 40 lower-case hex digits (Redis names a script by it, for EVALSHA).
    public static func sha1Hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 20)
        bytes.withUnsafeBufferPointer { input in
            _ = SHA1(input.baseAddress, input.count, &out)
        }
        return hex(out)
    }

    /// HMAC-SHA-256 of `message` under `key`, as 64 lower-case hex digits: a keyed hash that every
    /// process holding the same key computes alike, and nobody without it can reverse or guess.
    public static func hmacSHA256Hex(key: [UInt8], message: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        return hex(Array(out.prefix(Int(length))))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for b in bytes {
            text.append(digits[Int(b >> 4)])
            text.append(digits[Int(b & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
