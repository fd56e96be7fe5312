/*
 * feed.h — a session's inputs, generated from a seed (issue 4).
 *
 * genie-real and its local reference must feed every step the same
 * inputs, and the inputs must be valid for the model: token ids below the
 * vocabulary size, lookup indices inside their tables.  The rules:
 *
 *   - an LLM session (workloads/llm.c: inputs 0 token ids and 1
 *     positions, i64 [B, T]; output 0 the next token, i64 [B, 1]): the
 *     prompt is seeded, decode step s gets the token step s-1 produced
 *     and position P + s - 1 — real autoregressive decoding;
 *   - otherwise each input is seeded independently: floats uniform in
 *     [-1, 1) (f16/bf16: that f32 value rounded to the type), integers
 *     uniform in [0, bound) where bound is the smallest table its
 *     consumers index (embedding, embedding_bag, index; views followed),
 *     1 when nothing bounds it; bools (attention masks) true with
 *     probability 3/4;
 *   - the offsets of an embedding_bag (its input 2) cut its n ids into
 *     bags of nearly equal size: offsets[i] = i·n / bags.
 *
 * The values depend on SEED, the step and the tensor only.
 */
#ifndef GN_FEED_H
#define GN_FEED_H

#include <stdint.h>

#include "error.h"
#include "runner.h"

/*
 * Writes every input tensor of step STEP of R's session into R (for an
 * LLM decode step, reading the token step STEP-1 produced, which must
 * still be readable in R).  0 or a negative code with ERR.
 */
int gn_feed_step(gn_runner *r, uint32_t step, uint64_t seed, gn_error *err);

#endif /* GN_FEED_H */
