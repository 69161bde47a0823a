/* The acknowledgement window (sockit/game.h): sequence numbers out, a newest-received number
 * and 32 bits of history in; RTT from acked packets, loss from packets that left the window
 * unacked. */
#include <string.h>

#include "sockit/game.h"

#define LOSS_AFTER 64 /* a packet this far behind the newest sent, unacked, is lost */

void sockit_game_window_init(struct sockit_game_window *w)
{
    memset(w, 0, sizeof(*w));
    /* Until a side has received anything its acks say 0 with no bits: numbering from 1 makes
     * that ack nothing, not our first packet. */
    w->next_seq = 1;
}

void sockit_game_window_send(struct sockit_game_window *w, uint64_t now,
                             struct sockit_game_acks *out)
{
    uint16_t seq = w->next_seq++;
    size_t slot = seq % SOCKIT_GAME_WINDOW;
    uint16_t old = (uint16_t)(seq - LOSS_AFTER);
    size_t old_slot = old % SOCKIT_GAME_WINDOW;

    if (w->sent[old_slot].sent_ns && w->sent[old_slot].seq == old && !w->sent[old_slot].acked) {
        w->lost++;
        w->loss += (1.0 - w->loss) / 64.0;
        w->sent[old_slot].sent_ns = 0;
    }
    w->sent[slot].sent_ns = now ? now : 1;
    w->sent[slot].seq = seq;
    w->sent[slot].acked = false;
    *out = (struct sockit_game_acks){ .seq = seq, .ack = w->remote_seq, .ack_bits = w->recv_bits };
}

/* Our packet SEQ was acked at NOW. Only the peer's newest (SAMPLE) times a round trip: an
 * older one acked late, in the history bits, after its own ack was lost, would read long. */
static void acked(struct sockit_game_window *w, uint16_t seq, uint64_t now, bool sample,
                  void (*cb)(uint16_t seq, void *ud), void *ud)
{
    size_t slot = seq % SOCKIT_GAME_WINDOW;

    if (!w->sent[slot].sent_ns || w->sent[slot].seq != seq || w->sent[slot].acked)
        return;
    if ((uint16_t)(w->next_seq - seq) > LOSS_AFTER) /* already counted lost */
        return;
    w->sent[slot].acked = true;
    w->acked++;
    w->loss -= w->loss / 64.0;
    double ms = (double)(now - w->sent[slot].sent_ns) / 1e6;
    if (sample)
        w->rtt_ms = w->rtt_ms == 0 ? ms : w->rtt_ms + (ms - w->rtt_ms) / 8.0;
    if (cb)
        cb(seq, ud);
}

/* Record the arrival of the peer's packet SEQ; false for a duplicate or one too old. */
static bool received(struct sockit_game_window *w, uint16_t seq)
{
    if (!w->received_any) {
        w->received_any = true;
        w->remote_seq = seq;
        w->recv_bits = 0;
        return true;
    }
    if (sockit_game_seq_newer(seq, w->remote_seq)) {
        uint16_t shift = (uint16_t)(seq - w->remote_seq); /* the old newest is SHIFT behind */
        if (shift > 32)
            w->recv_bits = 0; /* it left the window */
        else
            w->recv_bits = (shift == 32 ? 0 : w->recv_bits << shift) | (1u << (shift - 1));
        w->remote_seq = seq;
        return true;
    }
    uint16_t behind = (uint16_t)(w->remote_seq - seq);
    if (behind == 0 || behind > 32 || (w->recv_bits >> (behind - 1)) & 1)
        return false;
    w->recv_bits |= 1u << (behind - 1);
    return true;
}

bool sockit_game_window_recv(struct sockit_game_window *w, uint64_t now,
                             const struct sockit_game_acks *a, void (*cb)(uint16_t seq, void *ud),
                             void *ud)
{
    if (!received(w, a->seq))
        return false;
    acked(w, a->ack, now, true, cb, ud);
    for (uint32_t bits = a->ack_bits; bits; bits &= bits - 1) /* each set bit, lowest first */
        acked(w, (uint16_t)(a->ack - 1 - (unsigned)__builtin_ctz(bits)), now, false, cb, ud);
    return true;
}
