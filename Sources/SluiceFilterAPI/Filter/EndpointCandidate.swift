/// An endpoint an attempt may go to.
public struct EndpointCandidate: Sendable, Equatable {
    /// The four names, in one shared object: a candidate is copied several times per attempt (the
    /// list, the pick, the exchange's `endpoint`), and four strings took four reference counts per
    /// copy. The engine makes one per endpoint and shares it across requests.
    private var names: EndpointNames
    /// Stable identity across workers and reloads: "group/url".
    public var id: String {
        get { names.id }
        set { names = EndpointNames(id: newValue, group: names.group, url: names.url, host: names.host) }
    }
    /// The upstream group's name in the filter file.
    public var group: String {
        get { names.group }
        set { names = EndpointNames(id: names.id, group: newValue, url: names.url, host: names.host) }
    }
    /// The endpoint as written in the filter file (`http://…`, `https://…`, `mock://…`).
    public var url: String {
        get { names.url }
        set { names = EndpointNames(id: names.id, group: names.group, url: newValue, host: names.host) }
    }
    /// The host the engine connects to (a name is resolved without blocking the loop).
    public var host: String {
        get { names.host }
        set { names = EndpointNames(id: names.id, group: names.group, url: names.url, host: newValue) }
    }
    /// The TCP port.
    public var port: Int
    /// Position in the group's endpoint list.
    public var index: Int
    /// Streams in flight to this endpoint on this worker.
    public var activeStreams: Int

    /// A candidate built by hand (tests of a `selectUpstream` hook).
    public init(id: String, group: String, url: String, host: String, port: Int, index: Int, activeStreams: Int) {
        self.init(names: EndpointNames(id: id, group: group, url: url, host: host), port: port, index: index,
                  activeStreams: activeStreams)
    }

    /// A candidate for an endpoint whose names the engine made once.
    package init(names: EndpointNames, port: Int, index: Int, activeStreams: Int) {
        self.names = names
        self.port = port
        self.index = index
        self.activeStreams = activeStreams
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.port == b.port && a.index == b.index && a.activeStreams == b.activeStreams
            && (a.names === b.names || (a.id == b.id && a.group == b.group && a.url == b.url && a.host == b.host))
    }
}

/// The names of one endpoint, shared by every `EndpointCandidate` made for it. Immutable: a
/// candidate whose name is set gets names of its own.
package final class EndpointNames: Sendable {
    package let id: String
    package let group: String
    package let url: String
    package let host: String

    package init(id: String, group: String, url: String, host: String) {
        self.id = id
        self.group = group
        self.url = url
        self.host = host
    }
}
