/*
 * vision.c — ResNet-50 classifier and RetinaNet-style detector session
 * generator (see vision.h).
 *
 * Each step is built op by op the way torchvision's modules run (conv,
 * bn, relu; shortcut add; FPN top-down merge; the head applied to every
 * level with shared weights), with torchvision's module paths, so a
 * captured trace of the same model lines up.  Convolution shapes follow
 * PyTorch's floor((H + 2p - k) / s) + 1.  Counting conventions (FLOPs per
 * element, bytes read + written) are those of traces/SCHEMA.md and live in
 * one place: add_op().
 */
#include "vision.h"

#include "workload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ========================== presets ========================== */

static const gn_vision_config presets[] = {
    /* name, arch, blocks, width, classes, fpn, head_convs, anchors, image, dtype, batch, requests */
    {"resnet50", GN_VISION_CLASSIFIER, {3, 4, 6, 3}, 64, 1000, 256, 4, 9, 224, GN_DTYPE_F16, 1, 4},
    {"retinanet-r50-fpn", GN_VISION_DETECTOR, {3, 4, 6, 3}, 64, 91, 256, 4, 9, 800, GN_DTYPE_F16, 1, 4},
    {"tiny-resnet", GN_VISION_CLASSIFIER, {1, 1, 1, 1}, 4, 10, 8, 1, 2, 32, GN_DTYPE_F32, 1, 2},
    {"tiny-detector", GN_VISION_DETECTOR, {1, 1, 1, 1}, 4, 3, 8, 1, 2, 64, GN_DTYPE_F32, 1, 2},
};

int gn_vision_preset(const char *name, gn_vision_config *cfg)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0) {
            *cfg = presets[i];
            return 0;
        }
    return GN_ENOTFOUND;
}

uint64_t gn_vision_param_count(const gn_vision_config *c)
{
    uint64_t w = c->width, n = 3 * w * 49 + 2 * w; /* conv1, bn1 */
    uint64_t in = w, cstage[4];
    for (int i = 0; i < 4; i++) {
        uint64_t p = w << i, out = 4 * p;
        for (uint32_t b = 0; b < c->blocks[i]; b++) {
            n += in * p + 2 * p + p * p * 9 + 2 * p + p * out + 2 * out;
            if (b == 0)
                n += in * out + 2 * out; /* downsample */
            in = out;
        }
        cstage[i] = out;
    }
    if (c->arch == GN_VISION_CLASSIFIER)
        return n + in * c->classes + c->classes;
    uint64_t f = c->fpn_channels, a = c->anchors;
    for (int i = 0; i < 4; i++)
        n += cstage[i] * f + f + f * f * 9 + f;
    n += 2 * (uint64_t)c->head_convs * (f * f * 9 + f);
    n += f * 9 * a * c->classes + a * c->classes + f * 9 * a * 4 + a * 4;
    return n;
}

/* ========================== config from JSON ========================== */

int gn_vision_config_from_json(const json_t *obj, const char *file,
                               const char *path, gn_vision_config *cfg,
                               gn_error *err)
{
    gn_vision_config c;
    if (!json_is_object(obj))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
    json_t *v = json_object_get(obj, "model");
    if (!v)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: missing required field (a preset such as resnet50 or retinanet-r50-fpn)", file, path);
    if (!json_is_string(v) || gn_vision_preset(json_string_value(v), &c) < 0)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: unknown model (expected resnet50, retinanet-r50-fpn, tiny-resnet or tiny-detector)",
                            file, path);
    static const gn__field fields[] = {
        {"batch", offsetof(gn_vision_config, batch), 1, 4096},
        {"image", offsetof(gn_vision_config, image), 32, 8192},
        {"requests", offsetof(gn_vision_config, requests), 1, 1u << 20},
        {"width", offsetof(gn_vision_config, width), 1, 4096},
        {"classes", offsetof(gn_vision_config, classes), 1, 1u << 20},
        {"fpn_channels", offsetof(gn_vision_config, fpn_channels), 1, 8192},
        {"head_convs", offsetof(gn_vision_config, head_convs), 0, 64},
        {"anchors", offsetof(gn_vision_config, anchors), 1, 1024},
    };
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int handled = gn__workload_key(key, val, fields, sizeof(fields) / sizeof(fields[0]), &c, &c.dtype,
                                       file, path, err);
        if (handled < 0)
            return handled;
        if (handled)
            continue;
        if (strcmp(key, "blocks") == 0) {
            if (!json_is_array(val) || json_array_size(val) != 4)
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.blocks: expected an array of 4 integers (blocks of layer1..layer4)", file, path);
            for (size_t i = 0; i < 4; i++) {
                json_t *b = json_array_get(val, i);
                if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 1024)
                    return gn_error_set(err, GN_ESCHEMA, "%s: %s.blocks[%zu]: expected an integer in [1, 1024]", file, path, i);
                c.blocks[i] = (uint32_t)json_integer_value(b);
            }
            continue;
        }
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: unknown field of a vision workload", file, path, key);
    }
    v = json_object_get(obj, "name");
    if (json_is_string(v))
        snprintf(c.name, sizeof(c.name), "%s", json_string_value(v));
    *cfg = c;
    return 0;
}

/* ========================== graph building ========================== */

typedef struct gen {
    gn_graph *g;
    const gn_vision_config *c;
    int rc;            /* first error, 0 if none */
    char mod[160];     /* module path scratch */
    char name[200];    /* storage name scratch */
} gen;

static uint32_t tensor(gen *x, gn_kind kind, gn_dtype dt, const char *storage,
                       uint32_t ndim, ...)
{
    int64_t shape[GN_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (uint32_t i = 0; i < ndim; i++)
        shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    int id = gn_graph_add_tensor(x->g, NULL, dt, kind, ndim, shape, storage);
    if (id < 0 && !x->rc)
        x->rc = id;
    return id < 0 ? 0 : (uint32_t)id;
}

static double tbytes(gen *x, uint32_t t)
{
    return (double)gn_graph_tensor(x->g, t)->bytes;
}

static double numel(gen *x, uint32_t t)
{
    return tbytes(x, t) / (double)gn_dtype_size(gn_graph_tensor(x->g, t)->dtype);
}

/* Adds an op; bytes are inputs + outputs (SCHEMA.md), 0 for a view. */
static void add_op(gen *x, gn_op op, const uint32_t *in, uint32_t nin,
                   const uint32_t *out, uint32_t nout, double flops,
                   const char *module, json_t *attrs)
{
    double bytes = gn_graph_convention_bytes(x->g, op, in, nin, out, nout);
    int rc = gn_graph_add_node(x->g, op, in, nin, out, nout, flops, bytes, module, attrs);
    if (rc < 0 && !x->rc)
        x->rc = rc;
}

static const char *mod(gen *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->mod, sizeof(x->mod), fmt, ap);
    va_end(ap);
    return x->mod;
}

static const char *pname(gen *x, const char *module, const char *suffix)
{
    snprintf(x->name, sizeof(x->name), "%s.%s", module, suffix);
    return x->name;
}

/* An activation shaped like tensor LIKE. */
static uint32_t like(gen *x, uint32_t like_id)
{
    const gn_tensor *t = gn_graph_tensor(x->g, like_id);
    int64_t shape[GN_MAX_DIMS];
    uint32_t nd = t->ndim;
    gn_dtype dt = t->dtype;
    memcpy(shape, t->shape, sizeof(shape));
    int id = gn_graph_add_tensor(x->g, NULL, dt, GN_KIND_ACTIVATION, nd, shape, NULL);
    if (id < 0 && !x->rc)
        x->rc = id;
    return id < 0 ? 0 : (uint32_t)id;
}

/* Conv2d over IN [N, C, H, W], square kernel K, stride S, padding P;
 * weight (and bias) named MODULE.weight / .bias. */
static uint32_t conv(gen *x, uint32_t in, uint32_t cout, uint32_t k, uint32_t s,
                     uint32_t p, int bias, const char *module)
{
    const gn_tensor *t = gn_graph_tensor(x->g, in);
    int64_t N = t->shape[0], C = t->shape[1], H = t->shape[2], W = t->shape[3];
    int64_t Ho = (H + 2 * (int64_t)p - k) / s + 1, Wo = (W + 2 * (int64_t)p - k) / s + 1;
    gn_dtype dt = x->c->dtype;
    uint32_t ins[3] = {in, tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 4, (int64_t)cout, C,
                                  (int64_t)k, (int64_t)k), 0};
    if (bias)
        ins[2] = tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, (int64_t)cout);
    uint32_t out = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, N, (int64_t)cout, Ho, Wo);
    double o = (double)N * cout * Ho * Wo;
    add_op(x, GN_OP_CONV2D, ins, bias ? 3 : 2, &out, 1, 2 * o * C * k * k + (bias ? o : 0), module,
           json_pack("{s:i,s:i,s:i,s:i}", "stride", s, "padding", p, "groups", 1, "kernel", k));
    return out;
}

static uint32_t bn(gen *x, uint32_t in, const char *module)
{
    gn_dtype dt = x->c->dtype;
    int64_t C = gn_graph_tensor(x->g, in)->shape[1];
    uint32_t ins[3] = {in, tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 1, C),
                       tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, C)};
    uint32_t out = like(x, in);
    add_op(x, GN_OP_BATCH_NORM, ins, 3, &out, 1, 2 * numel(x, out), module,
           json_pack("{s:f}", "eps", 1e-5));
    return out;
}

static uint32_t eltwise(gen *x, const char *fn, const uint32_t *in, uint32_t nin, const char *module)
{
    uint32_t out = like(x, in[0]);
    add_op(x, GN_OP_ELEMENTWISE, in, nin, &out, 1, numel(x, out), module, json_pack("{s:s}", "fn", fn));
    return out;
}

static uint32_t relu(gen *x, uint32_t in, const char *module)
{
    return eltwise(x, "relu", &in, 1, module);
}

/* torchvision Bottleneck: conv1 1x1, conv2 3x3 (stride), conv3 1x1 (x4),
 * optional projection shortcut, add, relu. */
static uint32_t bottleneck(gen *x, uint32_t in, const char *base, uint32_t planes,
                           uint32_t stride, int downsample)
{
    char m[128];
    snprintf(m, sizeof(m), "%s.conv1", base);
    uint32_t h = conv(x, in, planes, 1, 1, 0, 0, m);
    h = bn(x, h, mod(x, "%s.bn1", base));
    h = relu(x, h, mod(x, "%s.relu", base));
    snprintf(m, sizeof(m), "%s.conv2", base);
    h = conv(x, h, planes, 3, stride, 1, 0, m);
    h = bn(x, h, mod(x, "%s.bn2", base));
    h = relu(x, h, mod(x, "%s.relu", base));
    snprintf(m, sizeof(m), "%s.conv3", base);
    h = conv(x, h, 4 * planes, 1, 1, 0, 0, m);
    h = bn(x, h, mod(x, "%s.bn3", base));
    uint32_t id = in;
    if (downsample) {
        snprintf(m, sizeof(m), "%s.downsample.0", base);
        id = conv(x, in, 4 * planes, 1, stride, 0, 0, m);
        id = bn(x, id, mod(x, "%s.downsample.1", base));
    }
    uint32_t sum[2] = {h, id};
    h = eltwise(x, "add", sum, 2, base);
    return relu(x, h, mod(x, "%s.relu", base));
}

/* ResNet trunk under PREFIX ("" or "backbone.body."); fills C[0..3] with
 * the outputs of layer1..layer4 and returns layer4's. */
static uint32_t resnet(gen *x, uint32_t img, const char *prefix, uint32_t C[4])
{
    const gn_vision_config *c = x->c;
    char m[128];
    snprintf(m, sizeof(m), "%sconv1", prefix);
    uint32_t h = conv(x, img, c->width, 7, 2, 3, 0, m);
    h = bn(x, h, mod(x, "%sbn1", prefix));
    h = relu(x, h, mod(x, "%srelu", prefix));
    const gn_tensor *t = gn_graph_tensor(x->g, h);
    int64_t N = t->shape[0], Ch = t->shape[1], Ho = (t->shape[2] + 2 - 3) / 2 + 1,
            Wo = (t->shape[3] + 2 - 3) / 2 + 1;
    uint32_t p = tensor(x, GN_KIND_ACTIVATION, c->dtype, NULL, 4, N, Ch, Ho, Wo);
    add_op(x, GN_OP_POOL2D, &h, 1, &p, 1, numel(x, h), mod(x, "%smaxpool", prefix),
           json_pack("{s:s,s:i,s:i,s:i}", "fn", "max", "kernel", 3, "stride", 2, "padding", 1));
    h = p;
    for (uint32_t i = 0; i < 4 && !x->rc; i++) {
        for (uint32_t b = 0; b < c->blocks[i] && !x->rc; b++) {
            char base[96];
            snprintf(base, sizeof(base), "%slayer%u.%u", prefix, i + 1, b);
            h = bottleneck(x, h, base, c->width << i, b == 0 && i > 0 ? 2 : 1, b == 0);
        }
        C[i] = h;
    }
    return h;
}

static void classifier(gen *x, uint32_t img)
{
    const gn_vision_config *c = x->c;
    uint32_t C[4];
    uint32_t h = resnet(x, img, "", C);
    const gn_tensor *t = gn_graph_tensor(x->g, h);
    int64_t N = t->shape[0], Ch = t->shape[1];
    uint32_t pooled = tensor(x, GN_KIND_ACTIVATION, c->dtype, NULL, 4, N, Ch, (int64_t)1, (int64_t)1);
    add_op(x, GN_OP_POOL2D, &h, 1, &pooled, 1, numel(x, h), "avgpool",
           json_pack("{s:s,s:b}", "fn", "avg", "adaptive", 1));
    uint32_t flat = tensor(x, GN_KIND_ACTIVATION, c->dtype, NULL, 2, N, Ch);
    add_op(x, GN_OP_VIEW, &pooled, 1, &flat, 1, 0, "flatten", json_pack("{s:s}", "fn", "flatten"));
    uint32_t ins[3] = {flat, tensor(x, GN_KIND_PARAM, c->dtype, "fc.weight", 2, (int64_t)c->classes, Ch),
                       tensor(x, GN_KIND_PARAM, c->dtype, "fc.bias", 1, (int64_t)c->classes)};
    uint32_t logits = tensor(x, GN_KIND_OUTPUT, c->dtype, NULL, 2, N, (int64_t)c->classes);
    add_op(x, GN_OP_MATMUL, ins, 3, &logits, 1, 2.0 * N * c->classes * Ch + (double)N * c->classes, "fc",
           json_pack("{s:I,s:i,s:I,s:b,s:b}", "m", (json_int_t)N, "n", c->classes, "k", (json_int_t)Ch,
                     "bias", 1, "transpose_b", 1));
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, logits, "cpu", NULL);
}

/* One head tower on feature map P: convs + relu, then the predictor
 * conv with OUTC channels; returns the prediction viewed as
 * [N, H*W*A, OUTC/A]. */
static uint32_t tower(gen *x, uint32_t p, const char *head, const char *pred, uint32_t outc)
{
    const gn_vision_config *c = x->c;
    char m[128];
    for (uint32_t j = 0; j < c->head_convs; j++) {
        snprintf(m, sizeof(m), "%s.conv.%u", head, j);
        p = relu(x, conv(x, p, c->fpn_channels, 3, 1, 1, 1, m), mod(x, "%s.conv.%u", head, j));
    }
    snprintf(m, sizeof(m), "%s.%s", head, pred);
    uint32_t o = conv(x, p, outc, 3, 1, 1, 1, m);
    const gn_tensor *t = gn_graph_tensor(x->g, o);
    int64_t N = t->shape[0], HW = t->shape[2] * t->shape[3];
    uint32_t v = tensor(x, GN_KIND_ACTIVATION, c->dtype, NULL, 3, N, HW * c->anchors,
                        (int64_t)(outc / c->anchors));
    add_op(x, GN_OP_VIEW, &o, 1, &v, 1, 0, head, json_pack("{s:s}", "fn", "permute_reshape"));
    return v;
}

static void detector(gen *x, uint32_t img)
{
    const gn_vision_config *c = x->c;
    uint32_t C[4], P[4], F = c->fpn_channels;
    resnet(x, img, "backbone.body.", C);
    char m[128];
    /* FPN top-down: the coarsest lateral first, then upsample and merge */
    snprintf(m, sizeof(m), "backbone.fpn.inner_blocks.%u", 3);
    uint32_t last = conv(x, C[3], F, 1, 1, 0, 1, m);
    snprintf(m, sizeof(m), "backbone.fpn.layer_blocks.%u", 3);
    P[3] = conv(x, last, F, 3, 1, 1, 1, m);
    for (int i = 2; i >= 0 && !x->rc; i--) {
        snprintf(m, sizeof(m), "backbone.fpn.inner_blocks.%d", i);
        uint32_t lat = conv(x, C[i], F, 1, 1, 0, 1, m);
        uint32_t up = like(x, lat);
        add_op(x, GN_OP_INDEX, &last, 1, &up, 1, 0, "backbone.fpn",
               json_pack("{s:s}", "fn", "upsample_nearest"));
        uint32_t sum[2] = {lat, up};
        last = eltwise(x, "add", sum, 2, "backbone.fpn");
        snprintf(m, sizeof(m), "backbone.fpn.layer_blocks.%d", i);
        P[i] = conv(x, last, F, 3, 1, 1, 1, m);
    }
    uint32_t cls[4], box[4];
    int64_t N = c->batch, total = 0;
    for (int i = 0; i < 4 && !x->rc; i++) {
        cls[i] = tower(x, P[i], "head.classification_head", "cls_logits", c->anchors * c->classes);
        box[i] = tower(x, P[i], "head.regression_head", "bbox_reg", c->anchors * 4);
        total += gn_graph_tensor(x->g, cls[i])->shape[1];
    }
    if (x->rc)
        return;
    uint32_t lo = tensor(x, GN_KIND_OUTPUT, c->dtype, NULL, 3, N, total, (int64_t)c->classes);
    uint32_t bo = tensor(x, GN_KIND_OUTPUT, c->dtype, NULL, 3, N, total, (int64_t)4);
    add_op(x, GN_OP_CONCAT, cls, 4, &lo, 1, 0, "head.classification_head", json_pack("{s:i}", "dim", 1));
    add_op(x, GN_OP_CONCAT, box, 4, &bo, 1, 0, "head.regression_head", json_pack("{s:i}", "dim", 1));
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, lo, "cpu", NULL);
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, bo, "cpu", NULL);
}

gn_session *gn_vision_generate(const gn_vision_config *c, gn_error *err)
{
    int bad = c->image < 32 || c->width == 0 || c->batch == 0 || c->requests == 0 || c->classes == 0;
    for (int i = 0; i < 4; i++)
        bad |= c->blocks[i] == 0;
    if (c->arch == GN_VISION_DETECTOR)
        bad |= c->fpn_channels == 0 || c->anchors == 0;
    if (bad) {
        gn_error_set(err, GN_EINVAL, "%s: image must be at least 32 pixels, and width, blocks, classes, batch, requests (and for a detector fpn_channels, anchors) at least 1",
                     c->name);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof(name), "%s b%u i%u r%u %s", c->name, c->batch, c->image, c->requests,
             gn_dtype_name(c->dtype));
    gn_session *s = gn_session_create(name);
    if (!s || gn_session_set_source(s, "workloads/vision") < 0) {
        gn_session_destroy(s);
        gn_error_set(err, GN_ENOMEM, "vision: out of memory");
        return NULL;
    }
    gn_session_set_model(s, json_pack("{s:s,s:s,s:[i,i,i,i],s:i,s:i,s:i,s:i,s:I}",
                                      "family", "vision",
                                      "arch", c->arch == GN_VISION_CLASSIFIER ? "resnet" : "retinanet-fpn",
                                      "blocks", c->blocks[0], c->blocks[1], c->blocks[2], c->blocks[3],
                                      "width", c->width, "classes", c->classes, "image", c->image,
                                      "batch", c->batch, "params", (json_int_t)gn_vision_param_count(c)));
    gen x = {.c = c};
    for (uint32_t st = 0; st < c->requests && !x.rc; st++) {
        char label[32];
        snprintf(label, sizeof(label), "request %u", st);
        x.g = gn_session_add_step(s, GN_PHASE_FORWARD, label);
        if (!x.g) {
            x.rc = GN_ENOMEM;
            break;
        }
        uint32_t img = tensor(&x, GN_KIND_INPUT, c->dtype, NULL, 4, (int64_t)c->batch, (int64_t)3,
                              (int64_t)c->image, (int64_t)c->image);
        if (c->arch == GN_VISION_CLASSIFIER)
            classifier(&x, img);
        else
            detector(&x, img);
    }
    gn_error sub;
    if (x.rc) {
        gn_error_set(err, x.rc, "%s: cannot build the trace: %s", c->name, gn_strerror(x.rc));
    } else if (gn_session_finalize(s, &sub) < 0) {
        gn_error_set(err, sub.code, "%s: generated trace is invalid: %s", c->name, sub.msg);
        x.rc = sub.code;
    }
    if (x.rc) {
        gn_session_destroy(s);
        return NULL;
    }
    return s;
}
