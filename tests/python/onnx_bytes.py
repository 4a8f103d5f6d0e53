"""Small ONNX files written byte by byte (protobuf wire format), for the reader's bad-input
tests and the fuzzer's seeds: a ModelProto whose graph holds float32 initializers."""
import struct


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, wire, payload):
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    return key + _varint(len(payload)) + payload  # wire 2: length-delimited


def tensor(name, dims, values=None, raw=True, data_type=1):
    """TensorProto: dims (1), data_type (2), float_data (4, packed), name (8), raw_data (9)."""
    values = [0.0] * _count(dims) if values is None else values
    out = b"".join(_field(1, 0, d) for d in dims) + _field(2, 0, data_type)
    out += _field(8, 2, name.encode())
    data = struct.pack(f"<{len(values)}f", *values)
    out += _field(9, 2, data) if raw else _field(4, 2, data)
    return out


def _count(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def model(tensors):
    """ModelProto: ir_version (1) 8, graph (7): GraphProto with name (2), initializers (5)."""
    graph = _field(2, 2, b"g") + b"".join(_field(5, 2, t) for t in tensors)
    return _field(1, 0, 8) + _field(7, 2, graph)


# Silero VAD v6's initializers: name -> shape (what qattn reads from the file)
SILERO = {"encoder.feature_extractor.forward_basis_buffer": (258, 1, 256),
          "encoder.conv_layers.0.weight": (128, 129, 3), "encoder.conv_layers.0.bias": (128,),
          "encoder.conv_layers.1.weight": (64, 128, 3), "encoder.conv_layers.1.bias": (64,),
          "encoder.conv_layers.2.weight": (64, 64, 3), "encoder.conv_layers.2.bias": (64,),
          "encoder.conv_layers.3.weight": (128, 64, 3), "encoder.conv_layers.3.bias": (128,),
          "onnx::LSTM_209": (1, 512, 128), "onnx::LSTM_210": (1, 512, 128),
          "onnx::LSTM_211": (1, 1024), "decoder.conv1d.weight": (1, 128, 1),
          "decoder.conv1d.bias": (1,)}
