import SluiceConfig
import SluiceFilterAPI
import SluiceIO
import Synchronization

/// One endpoint of a group, resolved: where to connect and how. Immutable; a class so that an
/// exchange and its connections share one instance (a struct of six strings was copied field by
/// field several times per request).
final class UpstreamEndpoint: Sendable {
    let id: String
    let group: String
    let url: String
    let host: String
    let port: Int
    /// Prepended to every request target (an endpoint like https://host/openai).
    let basePath: String
    let tls: TLSContext?
    let serverName: String?
    /// The Host header the upstream gets.
    let authority: String
    let index: Int
    /// Its names as every `EndpointCandidate` made for it shares them.
    let candidateNames: EndpointNames
    /// `[id]`: an exchange's `triedEndpoints` after a first attempt here, shared by them all
    /// instead of a list made per request.
    let triedAlone: [String]

    init(id: String, group: String, url: String, host: String, port: Int, basePath: String, tls: TLSContext?,
         serverName: String?, authority: String, index: Int) {
        self.id = id
        self.group = group
        self.url = url
        self.host = host
        self.port = port
        self.basePath = basePath
        self.tls = tls
        self.serverName = serverName
        self.authority = authority
        self.index = index
        self.candidateNames = EndpointNames(id: id, group: group, url: url, host: host)
        self.triedAlone = [id]
    }

    /// How a client may hear of this endpoint: its group and its place in the group's list
    /// (`fake[0]`), never its address, which goes to the log only.
    var publicName: String { "\(group)[\(index)]" }
}

/// A named group of endpoints with its balancing policy and pool settings.
final class UpstreamGroup: Sendable {
    let name: String
    let endpoints: [UpstreamEndpoint]
    let balance: BalancePolicy
    let maxIdlePerEndpoint: Int
    let idleTimeout: Duration
    /// A new connection (TCP and TLS) must be ready within this.
    let connectTimeout: Duration
    /// A candidate per endpoint with no stream in flight: an attempt starts from this list, shared,
    /// and copies it only to set a count that is not zero (or when a filter edits it).
    let idleCandidates: [EndpointCandidate]
    private let cursor = Atomic<Int>(0)

    init(name: String, endpoints: [UpstreamEndpoint], balance: BalancePolicy, maxIdlePerEndpoint: Int, idleTimeout: Duration,
         connectTimeout: Duration) {
        self.connectTimeout = connectTimeout
        self.name = name
        self.endpoints = endpoints
        self.balance = balance
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
        self.idleCandidates = endpoints.map { e in
            EndpointCandidate(names: e.candidateNames, port: e.port, index: e.index, activeStreams: 0)
        }
    }

    /// Picks among `candidates` (what the filters left) by the group's policy, preferring endpoints
    /// not yet tried by this exchange.
    func pick(from candidates: [EndpointCandidate], tried: [String]) -> EndpointCandidate? {
        guard !candidates.isEmpty else { return nil }
        // A first attempt has tried nothing: no list to filter.
        let fresh = tried.isEmpty ? candidates : candidates.filter { !tried.contains($0.id) }
        let pool = fresh.isEmpty ? candidates : fresh
        switch balance {
        case .roundRobin:
            let n = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
            return pool[(n % pool.count + pool.count) % pool.count]
        case .leastActive:
            let least = pool.map(\.activeStreams).min()!
            let tied = pool.filter { $0.activeStreams == least }
            let n = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
            return tied[(n % tied.count + tied.count) % tied.count]
        }
    }
}
