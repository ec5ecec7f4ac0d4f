#ifndef ROLLCALL_COPENSSL_SHIM_H
#define ROLLCALL_COPENSSL_SHIM_H

#include <errno.h>
#include <sys/socket.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>

/* Macros Swift cannot call. */
static inline long copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline int copenssl_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long copenssl_bio_set_fd(BIO *bio, int fd, int closeFlag) {
    return BIO_set_fd(bio, fd, closeFlag);
}

/* SSL_OP_IGNORE_UNEXPECTED_EOF is SSL_OP_BIT(7), a cast expression Swift does not import. */
static inline uint64_t copenssl_op_ignore_unexpected_eof(void) {
    return SSL_OP_IGNORE_UNEXPECTED_EOF;
}

/*
 * OpenSSL 3.0's socket BIO writes with write(2). A write to a connection the controller has already closed then raises
 * SIGPIPE, whose default action kills the agent; the plain-HTTP path avoids that with send(MSG_NOSIGNAL), and the agent
 * does not ignore SIGPIPE process-wide. This write is the socket BIO's own (same retry flags, so SO_SNDTIMEO still
 * reaches the caller as SSL_ERROR_WANT_WRITE with errno EAGAIN) with MSG_NOSIGNAL added.
 */
static inline int copenssl_nosignal_socket_write(BIO *bio, const char *data, int length) {
    int fd = -1;
    if (BIO_get_fd(bio, &fd) < 0 || fd < 0) {
        return -1;
    }
    errno = 0;
    ssize_t written = send(fd, data, (size_t)length, MSG_NOSIGNAL);
    BIO_clear_retry_flags(bio);
    if (written <= 0 && BIO_sock_should_retry((int)written)) {
        BIO_set_retry_write(bio);
    }
    return (int)written;
}

/*
 * A BIO method that is the socket BIO except for its write. The caller owns it: BIO_meth_free it after every BIO made
 * from it is freed. Returns NULL when OpenSSL is out of memory.
 *
 * It keeps the socket BIO's type rather than taking one from BIO_get_new_index: that hands out at most 127 indexes per
 * process, and the agent makes one method per connection for its whole life. The BIO is a socket BIO in all but the
 * MSG_NOSIGNAL, so the type is honest.
 */
static inline BIO_METHOD *copenssl_nosignal_socket_method(void) {
    const BIO_METHOD *plain = BIO_s_socket();
    BIO_METHOD *method = BIO_meth_new(BIO_TYPE_SOCKET, "socket (MSG_NOSIGNAL)");
    if (method == NULL) {
        return NULL;
    }
    if (!BIO_meth_set_write(method, copenssl_nosignal_socket_write)
        || !BIO_meth_set_read(method, BIO_meth_get_read(plain))
        || !BIO_meth_set_puts(method, BIO_meth_get_puts(plain))
        || !BIO_meth_set_ctrl(method, BIO_meth_get_ctrl(plain))
        || !BIO_meth_set_create(method, BIO_meth_get_create(plain))
        || !BIO_meth_set_destroy(method, BIO_meth_get_destroy(plain))) {
        BIO_meth_free(method);
        return NULL;
    }
    return method;
}

#endif
