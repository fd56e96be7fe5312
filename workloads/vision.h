/*
 * vision.h — SRG traces of vision inference sessions: `requests` forward
 * steps, each one batch of images in, one result out.
 *
 * Two architectures, exact in shapes, FLOPs and bytes (traces/SCHEMA.md
 * conventions), with module and parameter names as torchvision spells
 * them:
 *   classifier  ResNet-50 v1.5 (torchvision `resnet50`): 7x7 stem,
 *               bottlenecks [3, 4, 6, 3] with the stride on the 3x3 conv,
 *               projection shortcuts (`downsample.0/1`), global average
 *               pool, fc.  25,557,032 parameters (He et al. 2016);
 *   detector    RetinaNet-style: the same backbone under `backbone.body`,
 *               an FPN neck over C2..C5 (`backbone.fpn.inner_blocks.i` 1x1
 *               laterals, nearest upsampling, `backbone.fpn.layer_blocks.i`
 *               3x3 outputs, P2..P5) and a head shared across levels:
 *               `head.classification_head.conv.j` / `.cls_logits` and
 *               `head.regression_head.conv.j` / `.bbox_reg` (Lin et al.
 *               2017).  Post-processing (anchor decoding, NMS) runs on the
 *               client and is not in the trace.
 * Batch norm is inference-mode: weight and bias are params; the running
 * statistics are buffers, not parameters, and are taken as folded into
 * weight and bias (as inference engines do), so they are not tensors of
 * the trace.  The result (logits; for the detector, class logits and box
 * deltas of every anchor) is an `output` the client reads.
 */
#ifndef GN_VISION_H
#define GN_VISION_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "session.h"

typedef enum gn_vision_arch { GN_VISION_CLASSIFIER, GN_VISION_DETECTOR } gn_vision_arch;

typedef struct gn_vision_config {
    char name[48];          /* preset or user name, e.g. "resnet50" */
    gn_vision_arch arch;    /* classifier or detector */
    uint32_t blocks[4];     /* bottleneck blocks of layer1..layer4 */
    uint32_t width;         /* stem and layer1 width, channels (64); bottleneck expansion 4 */
    uint32_t classes;       /* classifier outputs, or detector object classes */
    uint32_t fpn_channels;  /* FPN and head width, channels (detector) */
    uint32_t head_convs;    /* 3x3 convs in each head tower (detector) */
    uint32_t anchors;       /* anchors per location (detector) */
    uint32_t image;         /* input height = width, pixels */
    gn_dtype dtype;         /* weights and activations */
    uint32_t batch;         /* images per request */
    uint32_t requests;      /* forward steps in the session */
} gn_vision_config;

/* Fills *CFG with preset NAME: resnet50 (224 px, 1000 classes),
 * retinanet-r50-fpn (800 px, 91 classes, 9 anchors, 4-conv towers),
 * tiny-resnet, tiny-detector (for tests); batch 1, 4 requests, f16 (the
 * tiny ones f32).  Returns 0 or GN_ENOTFOUND. */
int gn_vision_preset(const char *name, gn_vision_config *cfg);

/*
 * Reads a workload object {"model": PRESET, "batch", "image", "requests",
 * "dtype", "blocks": [4 integers], and any architecture field to
 * override} into *CFG.  FILE/PATH name it in errors; unknown fields are
 * rejected.  0 or GN_ESCHEMA with ERR filled; *CFG untouched on error.
 */
int gn_vision_config_from_json(const json_t *obj, const char *file,
                               const char *path, gn_vision_config *cfg,
                               gn_error *err);

/* Parameter count of CFG's architecture (elements), from closed-form
 * formulas independent of the generator. */
uint64_t gn_vision_param_count(const gn_vision_config *cfg);

/*
 * Generates the session (CFG->requests forward steps), finalized.
 * Returns a new session (caller owns), or NULL with ERR filled (GN_EINVAL
 * for an inconsistent config, e.g. an image smaller than 32 pixels or a
 * zero width).
 */
gn_session *gn_vision_generate(const gn_vision_config *cfg, gn_error *err);

#endif /* GN_VISION_H */
