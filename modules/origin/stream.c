/*
 * A client stream sends one response whose body may still be arriving: the head (already set in
 * req->res) goes out with the first send, then every slice of the body as it is published, straight
 * from the body's chunks. Its owner creates it when the request arrives, starts it when the head is
 * known, pokes it when the body grew and finishes it when no more will come. When h2o frees the
 * request (done, or the client left) the owner's `gone` callback runs, once; the owner must not use
 * the stream after that.
 *
 * Runs on the worker thread that owns the request; the body may be appended on another thread.
 */
#include "modules/origin/origin.h"

#define MAX_VECS_PER_SEND 8

struct ae_client_stream {
    h2o_generator_t super;
    h2o_req_t *req;
    ae_body_t *body;
    ae_body_cursor_t cursor;
    h2o_iovec_t date; /* for the head, until it is sent */
    uint64_t position;           /* offset in the body of the cursor */
    uint64_t window_first, window_end; /* the bytes to send: [first, end) */
    int discard, sending, finished, complete, final_sent;
    ae_client_stream_gone_cb gone;
    void *data;
};

/* Cuts the slices read to the window; returns how many are left. */
static size_t clip_to_window(ae_client_stream_t *stream, h2o_iovec_t *vecs, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i != n; ++i) {
        uint64_t start = stream->position, end = start + vecs[i].len;
        stream->position = end;
        if (end <= stream->window_first || start >= stream->window_end)
            continue;
        uint64_t skip = start < stream->window_first ? stream->window_first - start : 0;
        uint64_t stop = end > stream->window_end ? stream->window_end - start : vecs[i].len;
        vecs[kept++] = h2o_iovec_init(vecs[i].base + skip, stop - skip);
    }
    return kept;
}

static void send_available(ae_client_stream_t *stream)
{
    h2o_iovec_t vecs[MAX_VECS_PER_SEND];
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;

    if (stream->body == NULL || stream->sending || stream->final_sent)
        return;
    int finished = stream->finished || stream->position >= stream->window_end;
    size_t n = ae_body_read(stream->body, &stream->cursor, vecs, MAX_VECS_PER_SEND);
    int read_all = n != MAX_VECS_PER_SEND;
    n = clip_to_window(stream, vecs, n);
    if (stream->position >= stream->window_end) {
        finished = read_all = 1; /* the rest of the body is not for this client */
        stream->complete = 1;
    }
    if (finished && read_all) {
        state = stream->complete ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
        stream->final_sent = 1;
    } else if (n == 0) {
        return;
    } else {
        stream->sending = 1;
    }
    h2o_iovec_t date = stream->date;
    stream->date = h2o_iovec_init(NULL, 0);
    ae_send_head_with_date(stream->req, date, vecs, n, state);
}

static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    ae_client_stream_t *stream = (ae_client_stream_t *)generator;
    stream->sending = 0;
    if (stream->discard)
        ae_body_discard_read(stream->body, &stream->cursor);
    send_available(stream);
}

static void on_disposed(void *_stream)
{
    ae_client_stream_t *stream = _stream;
    if (stream->body != NULL) {
        if (stream->discard)
            ae_body_end_single_reader(stream->body);
        ae_body_release(stream->body);
    }
    stream->gone(stream->data);
}

ae_client_stream_t *ae_client_stream_new(h2o_req_t *req, ae_client_stream_gone_cb gone, void *data)
{
    ae_client_stream_t *stream = h2o_mem_alloc_shared(&req->pool, sizeof(*stream), on_disposed);
    *stream = (ae_client_stream_t){.super = {.proceed = on_proceed}, .req = req, .window_end = UINT64_MAX, .gone = gone, .data = data};
    return stream;
}

void ae_client_stream_start(ae_client_stream_t *stream, ae_body_t *body, int discard, h2o_iovec_t date)
{
    ae_body_addref(body);
    stream->body = body;
    stream->discard = discard;
    if (discard)
        ae_body_set_single_reader(body);
    stream->date = h2o_strdup(&stream->req->pool, date.base, date.len);
    h2o_start_response(stream->req, &stream->super);
    if (h2o_memis(stream->req->method.base, stream->req->method.len, H2O_STRLIT("HEAD"))) {
        stream->final_sent = 1; /* h2o leaves HEAD bodies to the handler */
        ae_send_head_with_date(stream->req, stream->date, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    send_available(stream);
}

void ae_client_stream_set_window(ae_client_stream_t *stream, uint64_t first, uint64_t end)
{
    stream->window_first = first;
    stream->window_end = end;
}

void ae_client_stream_poke(ae_client_stream_t *stream)
{
    send_available(stream);
}

void ae_client_stream_finish(ae_client_stream_t *stream, int complete)
{
    stream->complete = complete;
    stream->finished = 1;
    send_available(stream);
}
