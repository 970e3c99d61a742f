import SluiceFilterAPI

/// The Lua scripts of `RedisStreamStore`, run atomically on the `shared_state` server. Every one
/// takes the stream's two keys: `KEYS[1]`, a hash of what the stream is, and `KEYS[2]`, a Redis
/// Stream of its events (entry `0-SEQ`, fields `e`: the event's `id:`, `b`: its wire bytes).
///
/// The hash's fields: `c` the credential's keyed hash (`SharedStore.clientKeyHash`), `d` the
/// dialect, `s` the state (`live`, `complete`, `cut`, `lost`), `w` why it was cut or lost, `n` the
/// newest sequence number, `f` the oldest kept, `b` the bytes kept, `l` the `id:` of the newest
/// dropped event, `u` until when (server milliseconds) the events are kept, `r` when a reader last
/// followed the live stream through Redis.
///
/// Time is the server's (`TIME`), so every instance agrees on it. The events live `window` (`u`
/// and the events' TTL, pushed on while the stream is live); the hash lives twice that, so a
/// resume in the window after the events expired still hears 410 rather than 404.
enum RedisStreamScripts {
    /// The server's time in milliseconds, as `now`.
    private static let now = "\nlocal t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

    /// ARGV: credential hash, dialect, window ms. A new live stream (anything under its keys before
    /// is dropped). Answers 1.
    static let begin = SharedScript(name: "resumable_begin", source: now + """

        local w = tonumber(ARGV[3])
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('HSET', KEYS[1], 'c', ARGV[1], 'd', ARGV[2], 's', 'live', 'w', '', 'n', '0', 'f', '1', 'b', '0',
          'l', '', 'u', string.format('%.0f', now + w), 'r', '0')
        redis.call('PEXPIRE', KEYS[1], 2 * w)
        return 1
        """)

    /// ARGV: seq, event id, bytes, window ms, max_bytes. Appends event `seq` of a live stream, then
    /// drops its oldest events while it keeps more than max_bytes (as the memory store does while
    /// the client reads). Answers 1 when kept; 0 when the stream is not live there (ended, lost,
    /// expired, never begun); -1 when `seq` is not the next one: an earlier append never arrived,
    /// and the stream is lost there (`incomplete`) rather than kept with a hole.
    static let append = SharedScript(name: "resumable_append", source: """
        local m = redis.call('HMGET', KEYS[1], 's', 'n', 'b', 'f')
        if m[1] ~= 'live' then return 0 end
        local seq = tonumber(ARGV[1])
        if tonumber(m[2]) + 1 ~= seq then
          redis.call('HSET', KEYS[1], 's', 'lost', 'w', 'incomplete')
          redis.call('DEL', KEYS[2])
          return -1
        end
        redis.call('XADD', KEYS[2], '0-' .. ARGV[1], 'e', ARGV[2], 'b', ARGV[3])
        local bytes = tonumber(m[3]) + #ARGV[3]
        local first = tonumber(m[4])
        local limit = tonumber(ARGV[5])
        while bytes > limit and first < seq do
          local oldest = redis.call('XRANGE', KEYS[2], '0-' .. first, '0-' .. first)
          if oldest[1] then
            bytes = bytes - #oldest[1][2][4]
            redis.call('HSET', KEYS[1], 'l', oldest[1][2][2])
            redis.call('XDEL', KEYS[2], '0-' .. first)
          end
          first = first + 1
        end
        """ + now + """

        local w = tonumber(ARGV[4])
        redis.call('HSET', KEYS[1], 'n', ARGV[1], 'b', string.format('%.0f', bytes), 'f', string.format('%.0f', first),
          'u', string.format('%.0f', now + w))
        redis.call('PEXPIRE', KEYS[1], 2 * w)
        redis.call('PEXPIRE', KEYS[2], w)
        return 1
        """)

    /// ARGV: `complete` or `cut`, why (cut), window ms. A live stream ended: kept `window` from now.
    /// Answers 1, or 0 when it was not live there.
    static let end = SharedScript(name: "resumable_end", source: """
        if redis.call('HGET', KEYS[1], 's') ~= 'live' then return 0 end
        """ + now + """

        local w = tonumber(ARGV[3])
        redis.call('HSET', KEYS[1], 's', ARGV[1], 'w', ARGV[2], 'u', string.format('%.0f', now + w))
        redis.call('PEXPIRE', KEYS[1], 2 * w)
        redis.call('PEXPIRE', KEYS[2], w)
        return 1
        """)

    /// ARGV: why (a `StreamLoss`), window ms. A live stream is no longer kept whole: its events go,
    /// and resumes hear 410 for `window`. Answers 1, or 0 when it was not live there.
    static let lose = SharedScript(name: "resumable_lose", source: """
        if redis.call('HGET', KEYS[1], 's') ~= 'live' then return 0 end
        redis.call('HSET', KEYS[1], 's', 'lost', 'w', ARGV[1])
        redis.call('DEL', KEYS[2])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
        return 1
        """)

    /// No ARGV. A stream whose id never reached a client: gone without a trace. Answers 1.
    static let forget = SharedScript(name: "resumable_forget", source: """
        redis.call('DEL', KEYS[1], KEYS[2])
        return 1
        """)

    /// ARGV: window ms. Keeps a live stream `window` from now (its producer is alive). Answers how
    /// many milliseconds ago a reader last followed it through Redis (a large number: never), or
    /// -1 when it is not live there.
    static let touch = SharedScript(name: "resumable_touch", source: """
        local m = redis.call('HMGET', KEYS[1], 's', 'r')
        if m[1] ~= 'live' then return -1 end
        """ + now + """

        local w = tonumber(ARGV[1])
        redis.call('HSET', KEYS[1], 'u', string.format('%.0f', now + w))
        redis.call('PEXPIRE', KEYS[1], 2 * w)
        redis.call('PEXPIRE', KEYS[2], w)
        return now - tonumber(m[2])
        """)

    /// ARGV: `open` or `read`; the credential hash (open); the Last-Event-ID, empty for the start
    /// (open), or the next sequence number (read); the most events and the most bytes to answer.
    ///
    /// Answers (`SharedStreamReply` reads it): `{'not_found'}` (no such stream, or, on open, another
    /// credential's); `{'gone', why}`; `{'unknown_event_id'}` (open: the stream is kept whole and
    /// has no such event); or `{'ok', start, next, dialect, state, why, newest, event…}`: the events
    /// from sequence number `start` on, with no gap, up to (not including) `next`. Never events
    /// after a hole: a start that is no longer kept is `gone`. A read of a live stream notes the
    /// time in `r`, which tells its producer someone follows it.
    static let follow = SharedScript(name: "resumable_follow", source: """
        local m = redis.call('HMGET', KEYS[1], 'c', 'd', 's', 'w', 'n', 'f', 'l', 'u')
        if not m[1] then return {'not_found'} end
        local open = ARGV[1] == 'open'
        if open and m[1] ~= ARGV[2] then return {'not_found'} end
        if m[3] == 'lost' then return {'gone', m[4]} end
        """ + now + """

        if tonumber(m[8]) <= now then return {'gone', 'expired'} end
        local n, f = tonumber(m[5]), tonumber(m[6])
        local function seqOf(entry) return tonumber(string.sub(entry[1], 3)) end
        local cursor
        if not open then
          cursor = tonumber(ARGV[3])
        elseif ARGV[3] == '' then
          if f > 1 then return {'gone', 'out_of_window'} end
          cursor = 1
        else
          local wanted = ARGV[3]
          local k = tonumber(wanted)
          -- The ids the filter gives are the sequence numbers: one lookup. An upstream's own ids
          -- are searched for, newest first, a page at a time.
          if k and k == math.floor(k) and k >= f and k <= n then
            local hit = redis.call('XRANGE', KEYS[2], '0-' .. k, '0-' .. k)
            if hit[1] and hit[1][2][2] == wanted then cursor = k + 1 end
          end
          local top = '+'
          while not cursor do
            local page = redis.call('XREVRANGE', KEYS[2], top, '-', 'COUNT', 512)
            for i = 1, #page do
              if page[i][2][2] == wanted then
                cursor = seqOf(page[i]) + 1
                break
              end
            end
            if cursor or #page < 512 then break end
            top = '(' .. page[#page][1]
          end
          if not cursor then
            if wanted == m[7] then cursor = f
            elseif f > 1 then return {'gone', 'out_of_window'}
            else return {'unknown_event_id'} end
          end
        end
        if cursor < f then return {'gone', 'out_of_window'} end
        if m[3] == 'live' then redis.call('HSET', KEYS[1], 'r', string.format('%.0f', now)) end
        local out = {'ok', cursor, cursor, m[2], m[3], m[4], n}
        if cursor <= n then
          local page = redis.call('XRANGE', KEYS[2], '0-' .. cursor, '+', 'COUNT', tonumber(ARGV[4]))
          if #page == 0 then return {'gone', 'expired'} end
          if seqOf(page[1]) ~= cursor then return {'gone', 'out_of_window'} end
          local budget = tonumber(ARGV[5])
          local nextSeq = cursor
          for i = 1, #page do
            if seqOf(page[i]) ~= nextSeq or (budget <= 0 and nextSeq > cursor) then break end
            out[#out + 1] = page[i][2][4]
            budget = budget - #page[i][2][4]
            nextSeq = nextSeq + 1
          end
          out[3] = nextSeq
        end
        return out
        """)
}
