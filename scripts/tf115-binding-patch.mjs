// Source edit that lets @tensorflow/tfjs-node 4.22's binding compile against the
// TensorFlow 1.15 C library. Only the string-tensor code differs: tfjs-node 4.x uses the
// TF_TString API (TensorFlow >= 2.4), which does not exist in 1.15. 1.15 stores a string
// tensor as a table of uint64 offsets followed by TF_StringEncode'd bytes, so the three
// places that touch string tensors are rewritten for that layout. Every other C-API
// symbol the binding uses exists in 1.15. Each edit must match exactly once, so a changed
// upstream source fails loudly instead of compiling into something subtly wrong.

/** @type {ReadonlyArray<{ what: string; from: string | RegExp; to: string }>} */
const EDITS = [
  {
    what: 'TF_TString header include',
    from: '#include "tensorflow/core/platform/ctstring_internal.h"\n',
    to: '#include <vector>  // tfjs-hpo: TF 1.15 string tensors, no ctstring_internal.h\n',
  },
  {
    what: 'string tensor creation',
    // From the TF_STRING allocation through the end of the TF_TString copy loop: anchored
    // on its first and last lines rather than quoting the whole upstream block.
    from: /  TF_AutoTensor tensor\(TF_AllocateTensor\(TF_DataType::TF_STRING, shape,\n[\s\S]*?TF_TString_Copy\(t, [^\n]*\n    t \+= 1;\n  }\n/,
    to: `  // tfjs-hpo (TF 1.15 layout): uint64 offsets table, then encoded strings.
  std::vector<void *> buffers(array_length, nullptr);
  std::vector<size_t> lengths(array_length, 0);
  const size_t table_size = array_length * sizeof(uint64_t);
  size_t data_size = table_size;
  for (uint32_t i = 0; i < array_length; ++i) {
    napi_value cur_value;
    nstatus = napi_get_element(env, array_value, i, &cur_value);
    ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
    ENSURE_VALUE_IS_TYPED_ARRAY_RETVAL(env, cur_value, nullptr);

    napi_typedarray_type array_type;
    nstatus = napi_get_typedarray_info(env, cur_value, &array_type, &lengths[i],
                                       &buffers[i], nullptr, nullptr);
    ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
    // Only Uint8 typed arrays are supported.
    if (array_type != napi_uint8_array) {
      NAPI_THROW_ERROR(env, "Unsupported array type - expecting Uint8Array");
      return nullptr;
    }
    data_size += TF_StringEncodedSize(lengths[i]);
  }

  TF_AutoTensor tensor(TF_AllocateTensor(TF_DataType::TF_STRING, shape,
                                         shape_length, data_size));
  char *tensor_data = reinterpret_cast<char *>(TF_TensorData(tensor.tensor));
  uint64_t *offsets = reinterpret_cast<uint64_t *>(tensor_data);
  char *encoded = tensor_data + table_size;
  const size_t encoded_size = data_size - table_size;
  size_t pos = 0;
  TF_AutoStatus encode_status;
  for (uint32_t i = 0; i < array_length; ++i) {
    offsets[i] = pos;
    static const char empty = 0;
    const char *src =
        buffers[i] == nullptr ? &empty : reinterpret_cast<char *>(buffers[i]);
    pos += TF_StringEncode(src, lengths[i], encoded + pos, encoded_size - pos,
                           encode_status.status);
    ENSURE_TF_OK_RETVAL(env, encode_status, nullptr);
  }
`,
  },
  {
    what: 'string tensor read: setup',
    from: `  TF_TString *ts = static_cast<TF_TString *>(TF_TensorData(tensor.tensor));
  TF_AutoStatus status;
`,
    to: `  // tfjs-hpo (TF 1.15 layout): uint64 offsets table, then encoded strings.
  const char *tensor_data = static_cast<const char *>(TF_TensorData(tensor.tensor));
  const size_t table_size = num_elements * sizeof(uint64_t);
  const uint64_t *offsets = reinterpret_cast<const uint64_t *>(tensor_data);
  const char *encoded = tensor_data + table_size;
  const size_t encoded_size = TF_TensorByteSize(tensor.tensor) - table_size;
  TF_AutoStatus status;
`,
  },
  {
    what: 'string tensor read: element',
    from: `    const char *raw_string = TF_TString_GetDataPointer(ts);
    size_t raw_string_size = TF_TString_GetSize(ts);
`,
    to: `    const char *raw_string = nullptr;
    size_t raw_string_size = 0;
    TF_StringDecode(encoded + offsets[i], encoded_size - offsets[i], &raw_string,
                    &raw_string_size, status.status);
    ENSURE_TF_OK(env, status);
`,
  },
  {
    what: 'string tensor read: advance',
    from: `    ts += 1;
  }
`,
    to: `  }
`,
  },
  {
    what: 'string tensor delete',
    from: `    size_t num_elements = GetTensorNumElements(tensor.tensor);
    TF_TString *data = reinterpret_cast<TF_TString *>(TF_TensorData(tensor.tensor));

    // Deallocate each string
    for (size_t i = 0; i < num_elements; i++) {
      TF_TString_Dealloc(data + i);
    }
`,
    to: `    // tfjs-hpo: TF 1.15 keeps encoded strings inside the tensor buffer, which
    // the tensor frees itself; there is no per-element deallocation.
`,
  },
];

/** Where `from` matches: [index or -1, length, whether it matches again later]. */
function locate(text, from) {
  if (typeof from === 'string') {
    const i = text.indexOf(from);
    return [i, from.length, i >= 0 && text.indexOf(from, i + 1) >= 0];
  }
  const m = from.exec(text);
  if (!m) return [-1, 0, false];
  const rest = text.slice(m.index + m[0].length);
  return [m.index, m[0].length, from.test(rest)];
}

/** Marker written into the patched file so a second run is a no-op. */
export const PATCH_MARKER = '// tfjs-hpo: patched for libtensorflow 1.15';

/**
 * Returns binding/tfjs_backend.cc rewritten for libtensorflow 1.15.
 * @param {string} source original text of tfjs-node 4.22's binding/tfjs_backend.cc
 * @returns {string}
 * @throws {Error} when an expected code block is missing or ambiguous
 */
export function patchTfjsBackendSource(source) {
  if (source.includes(PATCH_MARKER)) return source;
  let out = source;
  for (const edit of EDITS) {
    const [first, length, again] = locate(out, edit.from);
    if (first < 0 || again) {
      throw new Error(`tf115 patch: "${edit.what}" block ${first < 0 ? 'not found' : 'found twice'}`);
    }
    out = out.slice(0, first) + edit.to + out.slice(first + length);
  }
  if (/TF_TString/.test(out)) throw new Error('tf115 patch: TF_TString still referenced after patching');
  return `${PATCH_MARKER}\n${out}`;
}
