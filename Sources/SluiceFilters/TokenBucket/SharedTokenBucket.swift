import SluiceFilterAPI

/// The buckets of a `token_bucket` with `shared: true`, kept in Redis so every instance draws from
/// the same ones. Each take or adjustment is one script run atomically on the server, refilled
/// from the server's own clock (`TIME`), so instances with skewed clocks agree and two instances
/// can never both spend the same tokens.
///
/// A bucket is a hash `{level, at}` under `PREFIX:tb:{CHAIN}:NAME:CLIENT`, expiring after the
/// filter's idle eviction (never before it would have refilled). Loop thread of the exchange.
struct SharedTokenBucket: Sendable {
    let store: any SharedStore
    let base: String
    let settings: TokenBucket.Settings
    let expiry: Duration

    /// What the script answers: {admitted 0/1, whole tokens left, ms until the take would fit
    /// (-1: never or admitted), ms until full (-1: never), tokens taken}. Modes: `take` takes
    /// `want` if the bucket holds it; `adjust` charges `want` (a negative one refunds), kept within
    /// ±capacity; `slice` (batch mode) takes `want` plus up to `ARGV[6]` more whole tokens if the
    /// bucket holds them, and takes nothing when it does not hold `want`.
    static let script = SharedScript(name: "token_bucket", source: """
        if redis.replicate_commands then pcall(redis.replicate_commands) end
        local capacity = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2])
        local want = tonumber(ARGV[3])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local state = redis.call('HMGET', KEYS[1], 'level', 'at')
        local level = tonumber(state[1])
        local at = tonumber(state[2])
        if level == nil or at == nil then
          level = capacity
          at = now
        end
        if now > at then
          level = math.min(capacity, level + (now - at) * rate / 1000000)
          at = now
        end
        local admitted = 0
        local taken = 0
        if ARGV[4] == 'adjust' then
          level = math.max(-capacity, math.min(capacity, level - want))
          admitted = 1
        elseif want <= level then
          taken = want
          if ARGV[4] == 'slice' then
            taken = want + math.max(0, math.min(tonumber(ARGV[6]), math.floor(level - want)))
          end
          level = level - taken
          admitted = 1
        end
        redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', string.format('%d', at))
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        local retry = -1
        local reset = -1
        if rate > 0 then
          if admitted == 0 then retry = math.ceil((want - level) * 1000 / rate) end
          reset = math.ceil((capacity - level) * 1000 / rate)
        end
        return {admitted, math.floor(math.max(level, 0)), retry, reset, taken}
        """)

    /// The call that takes `tokens` from `client`'s bucket; it goes on when they were there.
    func takeCall(_ tokens: Int, client: String) -> SharedCall {
        call(tokens, client: client, mode: "take")
    }

    /// What an answer to `takeCall` says, or the failure when Redis gave none.
    func admission(_ answer: SharedStoreAnswer) -> Result<TokenBucketFilter.Admission, SharedStoreFailure> {
        switch answer {
        case .values(let v) where v.count == 5:
            return .success(TokenBucketFilter.Admission(
                admitted: v[0] == 1, limit: settings.capacityTokens, remaining: Int(clamping: v[1]),
                retryAfter: v[2] >= 0 ? .milliseconds(v[2]) : nil, reset: v[3] >= 0 ? .milliseconds(v[3]) : nil))
        case .values(let v):
            return .failure(.badAnswer("\(v.count) values from the token_bucket script"))
        case .failed(let failure):
            return .failure(failure)
        }
    }

    /// Charges `tokens` to `client`'s bucket (a negative number refunds), the level kept between
    /// `-capacity` and `capacity`. Fire and forget: a settlement Redis misses is lost, and the bucket
    /// is off by it until it refills.
    func adjust(by tokens: Int, client: String, worker: Int, _ completion: @escaping () -> Void = {}) {
        store.run(call(tokens, client: client, mode: "adjust"), worker: worker) { _ in completion() }
    }

    /// Batch mode: the call that takes `tokens` from `client`'s bucket plus up to `extra` more for
    /// the instance's slice (`SharedTokenSlices`); it goes on when `tokens` were there. With `tokens`
    /// 0 it is a prefetch, which takes what it can of `extra`.
    func sliceCall(_ tokens: Int, extra: Int, client: String) -> SharedCall {
        call(tokens, client: client, mode: "slice", extra: extra)
    }

    private func call(_ tokens: Int, client: String, mode: String, extra: Int = 0) -> SharedCall {
        let capacity = String(settings.capacityTokens)
        let rate = String(Double(settings.refillPerSecond) / Double(TokenBucket.unitsPerToken))
        return SharedCall(script: Self.script, keys: ["\(base):\(client)"],
                          arguments: [capacity, rate, String(tokens), mode, SharedLimit.milliseconds(expiry), String(extra)],
                          goesOnWhenFirstValueIs: 1)
    }
}
