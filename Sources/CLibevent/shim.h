// The C edge of Sluice: libevent (core, OpenSSL bufferevents, pthreads, DNS) and OpenSSL.
// Macros and variadic functions do not import into Swift; they are wrapped here as static inline functions.
#ifndef SLUICE_CLIBEVENT_SHIM_H
#define SLUICE_CLIBEVENT_SHIM_H

// Debian's event2/event-config.h defines _GNU_SOURCE; pulling in features.h first keeps Glibc's
// fd_set layout identical in every Swift module that also imports Glibc.
#include <features.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/dns.h>
#include <event2/thread.h>
#include <event2/util.h>

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static inline void sluice_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/// A process may start with SIGTERM/SIGINT/SIGHUP blocked (inherited from whatever spawned it);
/// shutdown and reload depend on them, so the calling thread, and the threads it creates, unblock them.
static inline void sluice_unblock_control_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static inline int sluice_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/// Closing with SO_LINGER 0 sends RST instead of FIN: how a connection is aborted.
static inline void sluice_set_linger_zero(int fd) {
    struct linger l = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static inline int sluice_errno(void) { return errno; }

static inline void sluice_close(int fd) { close(fd); }

// Reads what the socket has, up to `length`. Answers the bytes read, 0 at end of stream, or -errno
// (EAGAIN when nothing is there yet).
static inline long sluice_read_now(int fd, void *into, size_t length) {
    ssize_t n = read(fd, into, length);
    return n >= 0 ? (long)n : -(long)errno;
}
static inline int sluice_eagain(void) { return EAGAIN; }
static inline int sluice_eintr(void) { return EINTR; }

// An event loop's doorbell: any thread rings it (`execute`), the loop's read event hears it.
static inline int sluice_doorbell_new(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
static inline void sluice_doorbell_ring(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is saturated, so the loop will wake anyway.
}
static inline void sluice_doorbell_quiet(int fd) {
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void)n;
}

// Writes what the socket takes now, without blocking and without SIGPIPE. Answers the bytes written;
// 0 when it would block, was interrupted or failed: the caller then leaves the bytes to the
// bufferevent, which meets the same condition and reports it as it always does.
static inline size_t sluice_send_now(int fd, const void *bytes, size_t length) {
    ssize_t n = send(fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}
/// A second descriptor for the same open socket, close-on-exec. -1 with errno set on failure.
static inline int sluice_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

/// 1 when the peer of this TCP socket has reset it: the connection is closed (TCP_CLOSE) while
/// this side has not closed it. Reads nothing and clears nothing. (After the peer's FIN, recv
/// answers 0 even once a reset came, so it cannot tell.)
static inline int sluice_peer_was_reset(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return 0;
    return info.tcpi_state == TCP_CLOSE;
}

/// A descriptor held in reserve: /dev/null, close-on-exec. -1 when none is left.
static inline int sluice_open_spare_descriptor(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

/// Accepts one connection waiting on `listen_fd`, non-blocking and close-on-exec, its peer's
/// address into `address` (may be NULL). The new descriptor, or -1 with the reason in `*error`
/// (EAGAIN when none waits).
static inline int sluice_accept(int listen_fd, struct sockaddr_storage *address, int *error) {
    socklen_t length = sizeof(struct sockaddr_storage);
    int fd = accept4(listen_fd, (struct sockaddr *)address, address ? &length : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) *error = errno;
    return fd;
}

/// Gives a just-accepted connection a short answer without blocking: reads what it already sent
/// (so that closing it does not reset it over unread bytes), writes `answer` (best effort) and
/// ends the sending side. The descriptor stays open.
static inline void sluice_answer_connection(int fd, const void *answer, size_t length) {
    char scratch[4096];
    (void)recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    (void)send(fd, answer, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
}

/// Closes what `fd` refers to and makes it a copy of `source` in one step, so that no other thread
/// can take the slot in between. `fd` on success, -1 otherwise.
static inline int sluice_replace_descriptor(int source, int fd) { return dup3(source, fd, O_CLOEXEC); }

static inline void sluice_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

static inline long sluice_ssl_set_sni(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int sluice_ssl_ctx_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline const char *sluice_ssl_error_string(void) {
    unsigned long e = ERR_get_error();
    return e ? ERR_reason_error_string(e) : NULL;
}

/// Reads the local port of a bound socket (for listeners bound to port 0).
static inline int sluice_local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/// Formats a peer address as text; returns the port, or -1.
static inline int sluice_format_address(const struct sockaddr *sa, char *out, size_t outlen) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)outlen);
        return ntohs(in->sin_port);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)outlen);
        return ntohs(in6->sin6_port);
    }
    if (outlen) out[0] = 0;
    return -1;
}

/// Builds a socket address from numeric text (IPv4 or IPv6). Returns its length, or 0 when the text is not numeric.
static inline int sluice_make_address(const char *host, int port, struct sockaddr_storage *out) {
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        return (int)sizeof(struct sockaddr_in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        return (int)sizeof(struct sockaddr_in6);
    }
    return 0;
}

/// Builds a listening socket with SO_REUSEADDR (a restart may bind over connections in TIME_WAIT) and
/// without SO_REUSEPORT, so a port another process listens on fails with EADDRINUSE instead of being shared.
/// Returns the fd, or -1 with errno set.
static inline int sluice_listen_socket(const struct sockaddr *sa, int salen, int backlog) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, sa, (socklen_t)salen) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

#endif
