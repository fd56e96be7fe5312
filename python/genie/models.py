"""Small, unmodified real models used by the tests and traces/capture_models.py.

Everything is built from a config with random weights (nothing is
downloaded).  Transformers models are used as Hugging Face ships them;
DLRM is written here faithfully after Naumov et al. 2019 / facebookresearch
dlrm (bottom MLP, one EmbeddingBag per sparse feature, dot interaction,
top MLP), since no torchvision / torchrec CPU build is available.

Each builder returns (model, example inputs as a dict of CPU tensors,
a run function (model, inputs) -> output tensor).
"""
import torch
from torch import nn


def gpt2(layers=2, d=64, heads=4, vocab=512, max_pos=256, prompt=16, decode=4, seed=0):
    """The generator's tiny-gpt2 (workloads/llm.c) unless overridden; runs generate()."""
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab, n_positions=max_pos, n_embd=d, n_layer=layers, n_head=heads,
                     n_inner=4 * d, bos_token_id=0, eos_token_id=vocab - 1, pad_token_id=0)
    m = GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(1, vocab - 1, (1, prompt))
    return m, {"input_ids": ids}, _generate(decode + 1)


def llama(layers=2, d=64, heads=4, kv_heads=2, d_ff=172, vocab=512, prompt=16, decode=4, seed=0):
    """The generator's tiny-llama (RMSNorm, rotary, SwiGLU, GQA); runs generate()."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=d, intermediate_size=d_ff, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=vocab - 1, pad_token_id=0, rms_norm_eps=1e-5)
    m = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(1, vocab - 1, (1, prompt))
    return m, {"input_ids": ids}, _generate(decode + 1)


def _generate(n):
    def run(m, inp):
        return m.generate(**inp, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return run


def _forward_logits(m, inp):
    return m(**inp).logits


def resnet50(image=64, batch=1, seed=0):
    """ResNet-50 (bottleneck, [3, 4, 6, 3]) as transformers defines it."""
    from transformers import ResNetConfig, ResNetForImageClassification
    torch.manual_seed(seed)
    cfg = ResNetConfig(layer_type="bottleneck", depths=[3, 4, 6, 3],
                       hidden_sizes=[256, 512, 1024, 2048], embedding_size=64, num_labels=1000)
    m = ResNetForImageClassification(cfg).eval()
    return m, {"pixel_values": torch.randn(batch, 3, image, image)}, _forward_logits


def vilt(layers=2, d=64, heads=4, image=64, patch=16, text=8, seed=0):
    """ViLT VQA (vision patches + text tokens in one transformer, answer classifier head)."""
    from transformers import ViltConfig, ViltForQuestionAnswering
    torch.manual_seed(seed)
    cfg = ViltConfig(hidden_size=d, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=4 * d, image_size=image, patch_size=patch, vocab_size=512,
                     max_position_embeddings=64, num_labels=32, max_image_length=-1)
    m = ViltForQuestionAnswering(cfg).eval()
    inp = {"input_ids": torch.randint(1, 512, (1, text)), "attention_mask": torch.ones(1, text, dtype=torch.long),
           "pixel_values": torch.randn(1, 3, image, image), "pixel_mask": torch.ones(1, image, image, dtype=torch.long)}
    return m, inp, _forward_logits


class DotInteraction(nn.Module):
    """DLRM's dot interaction: pairwise dots of the dense vector and the embeddings (lower triangle)."""

    def forward(self, dense, sparse):
        B, D = dense.shape
        T = torch.cat([dense] + sparse, dim=1).view(B, -1, D)
        Z = torch.bmm(T, T.transpose(1, 2))
        F = T.shape[1]
        li, lj = torch.tril_indices(F, F, offset=-1, device=dense.device)
        return torch.cat([dense, Z[:, li, lj]], dim=1)


class DLRM(nn.Module):
    def __init__(self, dense_in=13, tables=(1000, 1000, 500, 500, 200, 200, 100, 100), dim=16,
                 bottom=(64, 32), top=(64, 32)):
        super().__init__()
        layers, w = [], dense_in
        for h in list(bottom) + [dim]:
            layers += [nn.Linear(w, h), nn.ReLU()]
            w = h
        self.bot_l = nn.Sequential(*layers)
        self.emb_l = nn.ModuleList(nn.EmbeddingBag(n, dim, mode="sum") for n in tables)
        self.interaction = DotInteraction()
        F = len(tables) + 1
        w = dim + F * (F - 1) // 2
        layers = []
        for h in top:
            layers += [nn.Linear(w, h), nn.ReLU()]
            w = h
        layers += [nn.Linear(w, 1), nn.Sigmoid()]
        self.top_l = nn.Sequential(*layers)

    def forward(self, dense_x, lS_o, lS_i):
        x = self.bot_l(dense_x)
        ly = [emb(lS_i[k], lS_o[k]) for k, emb in enumerate(self.emb_l)]
        return self.top_l(self.interaction(x, ly))


def dlrm(batch=32, pooling=4, seed=0, **kw):
    torch.manual_seed(seed)
    m = DLRM(**kw).eval()
    tables = [e.num_embeddings for e in m.emb_l]
    inp = {"dense_x": torch.rand(batch, 13),
           "lS_o": torch.stack([torch.arange(0, batch * pooling, pooling) for _ in tables]),
           "lS_i": torch.stack([torch.randint(0, n, (batch * pooling,)) for n in tables])}
    return m, inp, lambda m, i: m(i["dense_x"], i["lS_o"], i["lS_i"])


MODELS = {"gpt2": gpt2, "llama": llama, "resnet50": resnet50, "dlrm": dlrm, "vilt": vilt}


def to_device(inp, device):
    return {k: v.to(device) for k, v in inp.items()}
