// ABI encoding and strict decoding. The decoder bounds every length and offset by the input
// before allocating, so hostile input (it is fuzzed) costs at most time linear in its size.
#include "br2k/eth/abi.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "br2k/eth/keccak.h"

namespace br2k::eth {
namespace {

constexpr size_t kMaxFixedArray = 1 << 16;
constexpr int kMaxTypeDepth = 32;
constexpr size_t kSaturate = size_t{1} << 40;

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

void SkipSpace(std::string_view s, size_t& pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
}

Status TypeError(std::string_view text, const std::string& why) {
  return InvalidArgumentError("abi: invalid type '" + std::string(text) + "': " + why);
}

Result<int> ParseSmallNumber(std::string_view digits) {
  if (digits.empty() || digits.size() > 7) return InvalidArgumentError("bad number");
  int v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return InvalidArgumentError("bad number");
    v = v * 10 + (c - '0');
  }
  if (digits.size() > 1 && digits[0] == '0') return InvalidArgumentError("bad number");
  return v;
}

Result<AbiType> ParseElementary(std::string_view name) {
  auto suffix_after = [&](std::string_view prefix) { return name.substr(prefix.size()); };
  if (name == "address") return AbiType::Addr();
  if (name == "bool") return AbiType::Bool();
  if (name == "string") return AbiType::String();
  if (name == "bytes") return AbiType::DynBytes();
  if (name == "byte") return AbiType::FixedBytes(1);
  if (name == "uint") return AbiType::Uint(256);
  if (name == "int") return AbiType::Int(256);
  if (name == "function") return AbiType::FixedBytes(24);
  for (std::string_view prefix : {"uint", "int"}) {
    if (name.starts_with(prefix)) {
      auto bits = ParseSmallNumber(suffix_after(prefix));
      if (!bits.ok() || *bits < 8 || *bits > 256 || *bits % 8 != 0) {
        return TypeError(name, "integer width must be a multiple of 8 in 8..256");
      }
      return prefix == "uint" ? AbiType::Uint(*bits) : AbiType::Int(*bits);
    }
  }
  if (name.starts_with("bytes")) {
    auto n = ParseSmallNumber(suffix_after("bytes"));
    if (!n.ok() || *n < 1 || *n > 32) return TypeError(name, "bytesN needs 1 <= N <= 32");
    return AbiType::FixedBytes(static_cast<size_t>(*n));
  }
  return TypeError(name, "unknown type");
}

Result<std::vector<AbiType>> ParseListAt(std::string_view s, size_t& pos, int depth,
                                         bool allow_names);

// Parses one type at s[pos..], advancing pos past it (and past any array suffixes).
Result<AbiType> ParseTypeAt(std::string_view s, size_t& pos, int depth) {
  if (depth > kMaxTypeDepth) return TypeError(s, "nested too deeply");
  SkipSpace(s, pos);
  AbiType t;
  if (s.substr(pos).starts_with("tuple(")) pos += 5;
  if (pos < s.size() && s[pos] == '(') {
    ++pos;
    BR2K_ASSIGN_OR_RETURN(auto comps, ParseListAt(s, pos, depth + 1, /*allow_names=*/true));
    if (pos >= s.size() || s[pos] != ')') return TypeError(s, "missing ')'");
    ++pos;
    // Solidity has no empty struct; an empty tuple would be a zero-size element whose arrays
    // do not encode canonically (found by fuzz_eth_abi).
    if (comps.empty()) return TypeError(s, "empty tuple '()' is not a type");
    t = AbiType::Tuple(std::move(comps));
  } else {
    size_t start = pos;
    while (pos < s.size() && IsIdentChar(s[pos])) ++pos;
    if (start == pos) return TypeError(s, "expected a type at offset " + std::to_string(start));
    BR2K_ASSIGN_OR_RETURN(t, ParseElementary(s.substr(start, pos - start)));
  }
  int arrays = 0;
  while (pos < s.size() && s[pos] == '[') {
    if (++arrays + depth > kMaxTypeDepth) return TypeError(s, "nested too deeply");
    size_t close = s.find(']', pos);
    if (close == std::string_view::npos) return TypeError(s, "missing ']'");
    std::string_view digits = s.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    if (digits.empty()) {
      t = AbiType::Array(std::move(t));
    } else {
      auto n = ParseSmallNumber(digits);
      if (!n.ok() || *n < 1 || static_cast<size_t>(*n) > kMaxFixedArray) {
        return TypeError(s, "fixed array length must be in 1..65536");
      }
      t = AbiType::FixedArray(std::move(t), static_cast<size_t>(*n));
    }
  }
  return t;
}

// Parses "T1 name, T2" up to (not including) a ')' or the end.
Result<std::vector<AbiType>> ParseListAt(std::string_view s, size_t& pos, int depth,
                                         bool allow_names) {
  std::vector<AbiType> out;
  SkipSpace(s, pos);
  if (pos >= s.size() || s[pos] == ')') return out;
  while (true) {
    BR2K_ASSIGN_OR_RETURN(AbiType t, ParseTypeAt(s, pos, depth));
    out.push_back(std::move(t));
    SkipSpace(s, pos);
    // Optional qualifiers and a parameter name ("uint256 indexed amount", "bytes memory b").
    while (allow_names && pos < s.size() && IsIdentChar(s[pos])) {
      while (pos < s.size() && IsIdentChar(s[pos])) ++pos;
      SkipSpace(s, pos);
    }
    if (pos < s.size() && s[pos] == ',') {
      ++pos;
      continue;
    }
    return out;
  }
}

// ---- encoding ----

void AppendWord(Bytes& out, const U256& w) {
  auto be = w.ToBigEndian();
  out.insert(out.end(), be.begin(), be.end());
}

void AppendPadded(Bytes& out, BytesView b) {
  out.insert(out.end(), b.begin(), b.end());
  out.resize(out.size() + (32 - b.size() % 32) % 32, 0);
}

Status ValueError(const AbiType& t, const std::string& why) {
  return InvalidArgumentError("abi: value for " + t.ToString() + ": " + why);
}

Status CheckIntRange(const AbiType& t, const U256& w) {
  if (t.kind == AbiType::Kind::kUint) {
    if (w.BitLength() > t.bits) return ValueError(t, "out of range");
  } else if (t.bits < 256) {
    int len = w.IsNegative() ? (~w).BitLength() : w.BitLength();
    if (len >= t.bits) return ValueError(t, "out of range");
  }
  return Status::Ok();
}

Result<Bytes> EncodeOne(const AbiType& t, const AbiValue& v);

Result<Bytes> EncodeSequence(const std::vector<const AbiType*>& types,
                             const std::vector<AbiValue>& values) {
  size_t head_size = 0;
  for (const AbiType* t : types) head_size += t->HeadSize();
  Bytes head, tail;
  for (size_t i = 0; i < types.size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(Bytes enc, EncodeOne(*types[i], values[i]));
    if (types[i]->IsDynamic()) {
      AppendWord(head, U256(static_cast<uint64_t>(head_size + tail.size())));
      tail.insert(tail.end(), enc.begin(), enc.end());
    } else {
      head.insert(head.end(), enc.begin(), enc.end());
    }
  }
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

Result<Bytes> EncodeOne(const AbiType& t, const AbiValue& v) {
  using K = AbiType::Kind;
  Bytes out;
  switch (t.kind) {
    case K::kUint:
    case K::kInt:
      BR2K_RETURN_IF_ERROR(CheckIntRange(t, v.word));
      AppendWord(out, v.word);
      return out;
    case K::kBool:
      if (v.word > U256(1)) return ValueError(t, "not 0 or 1");
      AppendWord(out, v.word);
      return out;
    case K::kAddress:
      if (v.bytes.size() != 20) return ValueError(t, "want 20 bytes");
      out.resize(12, 0);
      out.insert(out.end(), v.bytes.begin(), v.bytes.end());
      return out;
    case K::kFixedBytes:
      if (v.bytes.size() != t.size)
        return ValueError(t, "want " + std::to_string(t.size) + " bytes");
      AppendPadded(out, v.bytes);
      return out;
    case K::kBytes:
    case K::kString:
      AppendWord(out, U256(static_cast<uint64_t>(v.bytes.size())));
      AppendPadded(out, v.bytes);
      return out;
    case K::kArray:
    case K::kFixedArray: {
      if (t.kind == K::kFixedArray && v.items.size() != t.size) {
        return ValueError(t, "want " + std::to_string(t.size) + " elements, got " +
                                 std::to_string(v.items.size()));
      }
      std::vector<const AbiType*> types(v.items.size(), &t.components[0]);
      BR2K_ASSIGN_OR_RETURN(Bytes body, EncodeSequence(types, v.items));
      if (t.kind == K::kArray) AppendWord(out, U256(static_cast<uint64_t>(v.items.size())));
      out.insert(out.end(), body.begin(), body.end());
      return out;
    }
    case K::kTuple: {
      if (v.items.size() != t.components.size()) {
        return ValueError(t, "want " + std::to_string(t.components.size()) + " members, got " +
                                 std::to_string(v.items.size()));
      }
      std::vector<const AbiType*> types;
      for (const auto& c : t.components) types.push_back(&c);
      return EncodeSequence(types, v.items);
    }
  }
  return InternalError("abi: unreachable");
}

// ---- decoding ----

Status DecodeError(const std::string& why) {
  return InvalidArgumentError("abi: " + why);
}

Result<U256> ReadWord(BytesView data, size_t pos) {
  if (pos > data.size() || data.size() - pos < 32) return DecodeError("input too short");
  return U256::FromBigEndian(data.subspan(pos, 32));
}

Result<size_t> ReadSize(BytesView data, size_t pos) {
  BR2K_ASSIGN_OR_RETURN(U256 w, ReadWord(data, pos));
  if (!w.FitsU64() || w.low64() > data.size()) return DecodeError("offset or length out of range");
  return static_cast<size_t>(w.low64());
}

Result<AbiValue> DecodeContent(const AbiType& t, BytesView data);

// Decodes `count` values laid out as a tuple at the start of `block`; element i has type
// *types[repeat ? 0 : i].
Result<std::vector<AbiValue>> DecodeSequence(const AbiType* types, size_t count, bool repeat,
                                             BytesView block) {
  std::vector<AbiValue> out;
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    const AbiType& t = types[repeat ? 0 : i];
    if (t.IsDynamic()) {
      BR2K_ASSIGN_OR_RETURN(size_t off, ReadSize(block, pos));
      BR2K_ASSIGN_OR_RETURN(AbiValue v, DecodeContent(t, block.subspan(off)));
      out.push_back(std::move(v));
      pos += 32;
    } else {
      size_t hs = t.HeadSize();
      if (hs > block.size() - std::min(pos, block.size())) return DecodeError("input too short");
      BR2K_ASSIGN_OR_RETURN(AbiValue v, DecodeContent(t, block.subspan(pos, hs)));
      out.push_back(std::move(v));
      pos += hs;
    }
  }
  return out;
}

// Decodes a value of type t whose encoding starts at data[0] (static types: data holds exactly
// its head-sized encoding or more).
Result<AbiValue> DecodeContent(const AbiType& t, BytesView data) {
  using K = AbiType::Kind;
  AbiValue v;
  switch (t.kind) {
    case K::kUint:
    case K::kInt: {
      BR2K_ASSIGN_OR_RETURN(v.word, ReadWord(data, 0));
      if (t.kind == K::kInt && t.bits < 256) {
        // Must be the sign extension of a t.bits-bit value.
        int len = v.word.IsNegative() ? (~v.word).BitLength() : v.word.BitLength();
        if (len >= t.bits) return DecodeError("non-canonical " + t.ToString());
      } else if (v.word.BitLength() > t.bits) {
        return DecodeError("non-canonical " + t.ToString());
      }
      return v;
    }
    case K::kBool: {
      BR2K_ASSIGN_OR_RETURN(v.word, ReadWord(data, 0));
      if (v.word > U256(1)) return DecodeError("bool is neither 0 nor 1");
      return v;
    }
    case K::kAddress: {
      BR2K_ASSIGN_OR_RETURN(U256 w, ReadWord(data, 0));
      if (w.BitLength() > 160) return DecodeError("address with dirty high bytes");
      v.bytes.assign(data.begin() + 12, data.begin() + 32);
      return v;
    }
    case K::kFixedBytes: {
      if (data.size() < 32) return DecodeError("input too short");
      if (std::any_of(data.begin() + t.size, data.begin() + 32, [](uint8_t b) { return b != 0; })) {
        return DecodeError("non-zero padding in " + t.ToString());
      }
      v.bytes.assign(data.begin(), data.begin() + t.size);
      return v;
    }
    case K::kBytes:
    case K::kString: {
      BR2K_ASSIGN_OR_RETURN(size_t len, ReadSize(data, 0));
      if (data.size() - 32 < len) return DecodeError("bytes run past the input");
      v.bytes.assign(data.begin() + 32, data.begin() + 32 + len);
      size_t pad_end = std::min(data.size(), 32 + (len + 31) / 32 * 32);
      if (std::any_of(data.begin() + 32 + len, data.begin() + pad_end,
                      [](uint8_t b) { return b != 0; })) {
        return DecodeError("non-zero padding after bytes");
      }
      return v;
    }
    case K::kArray: {
      BR2K_ASSIGN_OR_RETURN(size_t n, ReadSize(data, 0));
      BytesView rest = data.subspan(32);
      const AbiType& e = t.components[0];
      if (n > rest.size() / std::max<size_t>(1, std::min(e.HeadSize(), kSaturate))) {
        return DecodeError("array length exceeds the input");
      }
      BR2K_ASSIGN_OR_RETURN(v.items, DecodeSequence(&e, n, true, rest));
      return v;
    }
    case K::kFixedArray: {
      const AbiType& e = t.components[0];
      if (t.size > data.size() / std::max<size_t>(1, std::min(e.HeadSize(), kSaturate))) {
        return DecodeError("input too short");
      }
      BR2K_ASSIGN_OR_RETURN(v.items, DecodeSequence(&e, t.size, true, data));
      return v;
    }
    case K::kTuple: {
      BR2K_ASSIGN_OR_RETURN(v.items,
                            DecodeSequence(t.components.data(), t.components.size(), false, data));
      return v;
    }
  }
  return InternalError("abi: unreachable");
}

// ---- text values ----

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "a, [b, c], (d)" at top-level commas.
Result<std::vector<std::string_view>> SplitTopLevel(std::string_view s) {
  std::vector<std::string_view> parts;
  if (Trim(s).empty()) return parts;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '[' || c == '(')
      ++depth;
    else if (c == ']' || c == ')') {
      if (--depth < 0)
        return InvalidArgumentError("abi: unbalanced brackets in '" + std::string(s) + "'");
    } else if (c == ',' && depth == 0) {
      parts.push_back(Trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0 || quoted)
    return InvalidArgumentError("abi: unbalanced brackets in '" + std::string(s) + "'");
  parts.push_back(Trim(s.substr(start)));
  return parts;
}

std::string Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] == '\\' && i + 2 < s.size()) {
        ++i;
        out.push_back(s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i]);
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }
  return std::string(s);
}

std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

const char* PanicDescription(uint64_t code) {
  switch (code) {
    case 0x00:
      return "generic/unspecified error";
    case 0x01:
      return "assertion failed";
    case 0x11:
      return "arithmetic underflow or overflow";
    case 0x12:
      return "division or modulo by zero";
    case 0x21:
      return "enum overflow";
    case 0x22:
      return "invalid encoded storage byte array accessed";
    case 0x31:
      return "out-of-bounds array access; popping on an empty array";
    case 0x32:
      return "out-of-bounds access of an array or bytesN";
    case 0x41:
      return "out of memory";
    case 0x51:
      return "tried to call a zero-initialized variable of internal function type";
    default:
      return "unknown panic code";
  }
}

Status InPlaceEncode(const AbiType& t, const AbiValue& v, bool top, Bytes& out) {
  using K = AbiType::Kind;
  switch (t.kind) {
    case K::kBytes:
    case K::kString:
      if (top)
        out.insert(out.end(), v.bytes.begin(), v.bytes.end());
      else
        AppendPadded(out, v.bytes);
      return Status::Ok();
    case K::kArray:
    case K::kFixedArray:
      for (const auto& i : v.items)
        BR2K_RETURN_IF_ERROR(InPlaceEncode(t.components[0], i, false, out));
      return Status::Ok();
    case K::kTuple:
      if (v.items.size() != t.components.size()) return ValueError(t, "member count");
      for (size_t i = 0; i < v.items.size(); ++i) {
        BR2K_RETURN_IF_ERROR(InPlaceEncode(t.components[i], v.items[i], false, out));
      }
      return Status::Ok();
    default: {
      BR2K_ASSIGN_OR_RETURN(Bytes w, EncodeOne(t, v));
      out.insert(out.end(), w.begin(), w.end());
      return Status::Ok();
    }
  }
}

bool IsHashedWhenIndexed(const AbiType& t) {
  using K = AbiType::Kind;
  return t.kind == K::kBytes || t.kind == K::kString || t.kind == K::kArray ||
         t.kind == K::kFixedArray || t.kind == K::kTuple;
}

Result<AbiType> TypeFromJson(const nlohmann::json& p) {
  if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) {
    return InvalidArgumentError("abi json: parameter without a type");
  }
  std::string type = p["type"].get<std::string>();
  if (!type.starts_with("tuple")) return ParseAbiType(type);
  AbiType tuple = AbiType::Tuple({});
  if (p.contains("components")) {
    for (const auto& c : p["components"]) {
      BR2K_ASSIGN_OR_RETURN(AbiType ct, TypeFromJson(c));
      tuple.components.push_back(std::move(ct));
      tuple.names.push_back(c.value("name", ""));
    }
  }
  // Apply the array suffixes of "tuple[2][]" to the tuple.
  std::string placeholder = "bool" + type.substr(5);
  BR2K_ASSIGN_OR_RETURN(AbiType shape, ParseAbiType(placeholder));
  std::vector<std::pair<AbiType::Kind, size_t>> dims;
  const AbiType* cur = &shape;
  while (cur->kind == AbiType::Kind::kArray || cur->kind == AbiType::Kind::kFixedArray) {
    dims.emplace_back(cur->kind, cur->size);
    cur = &cur->components[0];
  }
  AbiType result = std::move(tuple);
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    result = it->first == AbiType::Kind::kArray
                 ? AbiType::Array(std::move(result))
                 : AbiType::FixedArray(std::move(result), it->second);
  }
  return result;
}

}  // namespace

// ---- AbiType ----

std::string AbiType::ToString() const {
  switch (kind) {
    case Kind::kUint:
      return "uint" + std::to_string(bits);
    case Kind::kInt:
      return "int" + std::to_string(bits);
    case Kind::kAddress:
      return "address";
    case Kind::kBool:
      return "bool";
    case Kind::kFixedBytes:
      return "bytes" + std::to_string(size);
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return components[0].ToString() + "[]";
    case Kind::kFixedArray:
      return components[0].ToString() + "[" + std::to_string(size) + "]";
    case Kind::kTuple: {
      std::string s = "(";
      for (size_t i = 0; i < components.size(); ++i) {
        if (i) s += ",";
        s += components[i].ToString();
      }
      return s + ")";
    }
  }
  return "?";
}

bool AbiType::IsDynamic() const {
  switch (kind) {
    case Kind::kBytes:
    case Kind::kString:
    case Kind::kArray:
      return true;
    case Kind::kFixedArray:
      return components[0].IsDynamic();
    case Kind::kTuple:
      return std::any_of(components.begin(), components.end(),
                         [](const AbiType& c) { return c.IsDynamic(); });
    default:
      return false;
  }
}

size_t AbiType::HeadSize() const {
  if (IsDynamic()) return 32;
  if (kind == Kind::kFixedArray) {
    size_t e = components[0].HeadSize();
    return e > kSaturate / size ? kSaturate : e * size;
  }
  if (kind == Kind::kTuple) {
    size_t s = 0;
    for (const auto& c : components) s = std::min(kSaturate, s + c.HeadSize());
    return s;
  }
  return 32;
}

bool AbiType::SameAs(const AbiType& o) const {
  if (kind != o.kind || bits != o.bits || size != o.size ||
      components.size() != o.components.size()) {
    return false;
  }
  for (size_t i = 0; i < components.size(); ++i) {
    if (!components[i].SameAs(o.components[i])) return false;
  }
  return true;
}

Result<AbiType> ParseAbiType(std::string_view text) {
  size_t pos = 0;
  BR2K_ASSIGN_OR_RETURN(AbiType t, ParseTypeAt(text, pos, 0));
  SkipSpace(text, pos);
  if (pos != text.size()) return TypeError(text, "unexpected trailing text");
  return t;
}

Result<std::vector<AbiType>> ParseAbiTypeList(std::string_view text) {
  size_t pos = 0;
  BR2K_ASSIGN_OR_RETURN(auto list, ParseListAt(text, pos, 0, /*allow_names=*/true));
  SkipSpace(text, pos);
  if (pos != text.size()) return TypeError(text, "unexpected trailing text");
  return list;
}

// ---- AbiValue ----

AbiValue AbiValue::Int(int64_t v) {
  U256 mag(v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v));
  return AbiValue{v < 0 ? mag.Negate() : mag, {}, {}};
}

Address AbiValue::AsAddress() const {
  Address a;
  if (bytes.size() == 20) std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  return a;
}

Result<Bytes> AbiEncode(const std::vector<AbiType>& types, const std::vector<AbiValue>& values) {
  if (types.size() != values.size()) {
    return InvalidArgumentError("abi: " + std::to_string(types.size()) + " types but " +
                                std::to_string(values.size()) + " values");
  }
  std::vector<const AbiType*> ptrs;
  for (const auto& t : types) ptrs.push_back(&t);
  return EncodeSequence(ptrs, values);
}

Result<std::vector<AbiValue>> AbiDecode(const std::vector<AbiType>& types, BytesView data) {
  return DecodeSequence(types.data(), types.size(), false, data);
}

Result<AbiValue> ParseAbiValue(const AbiType& t, std::string_view text) {
  using K = AbiType::Kind;
  text = Trim(text);
  auto fail = [&](const std::string& why) {
    return InvalidArgumentError("cannot parse '" + std::string(text) + "' as " + t.ToString() +
                                (why.empty() ? "" : ": " + why));
  };
  switch (t.kind) {
    case K::kUint:
    case K::kInt: {
      auto w = t.kind == K::kUint ? U256::FromString(text) : U256::FromSignedString(text);
      if (!w.ok()) return fail(w.status().message());
      AbiValue v = AbiValue::Uint(*w);
      if (!CheckIntRange(t, v.word).ok()) return fail("out of range");
      return v;
    }
    case K::kBool:
      if (text == "true") return AbiValue::Bool(true);
      if (text == "false") return AbiValue::Bool(false);
      return fail("want true or false");
    case K::kAddress: {
      auto a = Address::Parse(text);
      if (!a.ok()) return a.status();
      return AbiValue::Addr(*a);
    }
    case K::kFixedBytes: {
      auto b = FromHex(text);
      if (!b.ok()) return fail("want hex");
      if (b->size() > t.size) return fail("too long");
      b->resize(t.size, 0);
      return AbiValue::Bytes_(std::move(*b));
    }
    case K::kBytes: {
      auto b = FromHex(text);
      if (!b.ok()) return fail("want hex");
      return AbiValue::Bytes_(std::move(*b));
    }
    case K::kString:
      return AbiValue::Str(Unquote(text));
    case K::kArray:
    case K::kFixedArray:
    case K::kTuple: {
      bool is_tuple = t.kind == K::kTuple;
      char open = is_tuple ? '(' : '[', close = is_tuple ? ')' : ']';
      if (text.size() < 2 || text.front() != open || text.back() != close) {
        return fail(std::string("want ") + open + "..." + close);
      }
      BR2K_ASSIGN_OR_RETURN(auto parts, SplitTopLevel(text.substr(1, text.size() - 2)));
      if (is_tuple && parts.size() != t.components.size()) return fail("member count");
      if (t.kind == K::kFixedArray && parts.size() != t.size) return fail("element count");
      AbiValue v;
      for (size_t i = 0; i < parts.size(); ++i) {
        BR2K_ASSIGN_OR_RETURN(
            AbiValue item, ParseAbiValue(is_tuple ? t.components[i] : t.components[0], parts[i]));
        v.items.push_back(std::move(item));
      }
      return v;
    }
  }
  return InternalError("abi: unreachable");
}

namespace {
// cast's hint: the first four digits with trailing zeros trimmed, "1.234e9".
std::string ExpHint(const std::string& digits) {
  std::string mantissa = digits.substr(0, 4);
  while (mantissa.size() > 1 && mantissa.back() == '0') mantissa.pop_back();
  if (mantissa.size() > 1) mantissa.insert(1, ".");
  return mantissa + "e" + std::to_string(digits.size() - 1);
}

std::string FormatNumber(const U256& magnitude, bool negative, bool hints) {
  std::string digits = magnitude.ToDecimal();
  std::string sign = negative ? "-" : "";
  if (!hints || magnitude < U256(10000)) return sign + digits;
  return sign + digits + " [" + sign + ExpHint(digits) + "]";
}
}  // namespace

std::string FormatAbiValue(const AbiType& t, const AbiValue& v, bool hints) {
  using K = AbiType::Kind;
  switch (t.kind) {
    case K::kUint:
      return FormatNumber(v.word, false, hints);
    case K::kInt:
      return v.word.IsNegative() ? FormatNumber(v.word.Negate(), true, hints)
                                 : FormatNumber(v.word, false, hints);
    case K::kBool:
      return v.word.IsZero() ? "false" : "true";
    case K::kAddress:
      return v.AsAddress().ToChecksum();
    case K::kFixedBytes:
    case K::kBytes:
      return ToHex(v.bytes);
    case K::kString:
      return QuoteString(v.AsString());
    case K::kArray:
    case K::kFixedArray:
    case K::kTuple: {
      bool is_tuple = t.kind == K::kTuple;
      std::string s = is_tuple ? "(" : "[";
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) s += ", ";
        const AbiType& et =
            is_tuple ? t.components[std::min(i, t.components.size() - 1)] : t.components[0];
        s += FormatAbiValue(et, v.items[i], hints);
      }
      return s + (is_tuple ? ")" : "]");
    }
  }
  return "?";
}

// ---- functions ----

std::string AbiFunction::Signature() const {
  return name + AbiType::Tuple(inputs).ToString();
}

std::array<uint8_t, 4> AbiFunction::Selector() const {
  Hash h = Keccak256(Signature());
  return {h.bytes[0], h.bytes[1], h.bytes[2], h.bytes[3]};
}

Result<Bytes> AbiFunction::EncodeCall(const std::vector<AbiValue>& args) const {
  BR2K_ASSIGN_OR_RETURN(Bytes body, AbiEncode(inputs, args));
  auto sel = Selector();
  Bytes out(sel.begin(), sel.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::vector<AbiValue>> AbiFunction::DecodeCall(BytesView calldata) const {
  auto sel = Selector();
  if (calldata.size() < 4 || !std::equal(sel.begin(), sel.end(), calldata.begin())) {
    return InvalidArgumentError("abi: calldata does not start with the selector of " + Signature());
  }
  return AbiDecode(inputs, calldata.subspan(4));
}

Result<AbiFunction> ParseFunctionSignature(std::string_view text) {
  text = Trim(text);
  if (text.starts_with("function ")) text = Trim(text.substr(9));
  AbiFunction f;
  size_t pos = 0;
  while (pos < text.size() && IsIdentChar(text[pos])) ++pos;
  f.name = std::string(text.substr(0, pos));
  SkipSpace(text, pos);
  if (pos >= text.size() || text[pos] != '(') {
    return InvalidArgumentError("invalid signature '" + std::string(text) + "': want name(types)");
  }
  ++pos;
  BR2K_ASSIGN_OR_RETURN(f.inputs, ParseListAt(text, pos, 1, true));
  if (pos >= text.size() || text[pos] != ')') {
    return InvalidArgumentError("invalid signature '" + std::string(text) + "': missing ')'");
  }
  ++pos;
  SkipSpace(text, pos);
  if (text.substr(pos).starts_with("returns")) {
    pos += 7;
    SkipSpace(text, pos);
  }
  if (pos < text.size()) {
    if (text[pos] != '(') {
      return InvalidArgumentError("invalid signature '" + std::string(text) + "': trailing text");
    }
    ++pos;
    BR2K_ASSIGN_OR_RETURN(f.outputs, ParseListAt(text, pos, 1, true));
    if (pos >= text.size() || text[pos] != ')') {
      return InvalidArgumentError("invalid signature '" + std::string(text) + "': missing ')'");
    }
    ++pos;
    SkipSpace(text, pos);
    if (pos != text.size()) {
      return InvalidArgumentError("invalid signature '" + std::string(text) + "': trailing text");
    }
  }
  return f;
}

// ---- events ----

std::string AbiEvent::Signature() const {
  std::string s = name + "(";
  for (size_t i = 0; i < params.size(); ++i) {
    if (i) s += ",";
    s += params[i].type.ToString();
  }
  return s + ")";
}

Hash AbiEvent::Topic() const {
  return Keccak256(Signature());
}

Result<AbiEvent> ParseEventSignature(std::string_view text) {
  text = Trim(text);
  if (text.starts_with("event ")) text = Trim(text.substr(6));
  AbiEvent e;
  size_t pos = 0;
  while (pos < text.size() && IsIdentChar(text[pos])) ++pos;
  e.name = std::string(text.substr(0, pos));
  SkipSpace(text, pos);
  if (e.name.empty() || pos >= text.size() || text[pos] != '(') {
    return InvalidArgumentError("invalid event signature '" + std::string(text) + "'");
  }
  ++pos;
  SkipSpace(text, pos);
  while (pos < text.size() && text[pos] != ')') {
    AbiEventParam p;
    BR2K_ASSIGN_OR_RETURN(p.type, ParseTypeAt(text, pos, 1));
    SkipSpace(text, pos);
    while (pos < text.size() && IsIdentChar(text[pos])) {
      size_t start = pos;
      while (pos < text.size() && IsIdentChar(text[pos])) ++pos;
      std::string_view word = text.substr(start, pos - start);
      if (word == "indexed")
        p.indexed = true;
      else
        p.name = std::string(word);
      SkipSpace(text, pos);
    }
    e.params.push_back(std::move(p));
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      SkipSpace(text, pos);
    } else {
      break;
    }
  }
  if (pos >= text.size() || text[pos] != ')' || !Trim(text.substr(pos + 1)).empty()) {
    return InvalidArgumentError("invalid event signature '" + std::string(text) + "'");
  }
  return e;
}

Result<std::vector<DecodedLogArg>> DecodeLog(const AbiEvent& event, const std::vector<Hash>& topics,
                                             BytesView data) {
  size_t indexed = 0;
  std::vector<AbiType> data_types;
  for (const auto& p : event.params) {
    if (p.indexed)
      ++indexed;
    else
      data_types.push_back(p.type);
  }
  size_t first = event.anonymous ? 0 : 1;
  if (topics.size() != first + indexed) {
    return InvalidArgumentError("log: " + std::to_string(topics.size()) + " topics, event " +
                                event.Signature() + " needs " + std::to_string(first + indexed));
  }
  if (!event.anonymous && topics[0] != event.Topic()) {
    return InvalidArgumentError("log: topic[0] is not the topic of " + event.Signature());
  }
  BR2K_ASSIGN_OR_RETURN(auto values, AbiDecode(data_types, data));
  std::vector<DecodedLogArg> out;
  size_t ti = first, vi = 0;
  for (const auto& p : event.params) {
    DecodedLogArg a;
    a.name = p.name;
    a.indexed = p.indexed;
    if (p.indexed) {
      const Hash& topic = topics[ti++];
      if (IsHashedWhenIndexed(p.type)) {
        a.hashed = true;
        a.value = AbiValue::Bytes_(topic.ToBytes());
      } else {
        BR2K_ASSIGN_OR_RETURN(auto v, AbiDecode({p.type}, topic.view()));
        a.value = std::move(v[0]);
      }
    } else {
      a.value = std::move(values[vi++]);
    }
    out.push_back(std::move(a));
  }
  return out;
}

Result<Hash> IndexedTopic(const AbiType& type, const AbiValue& value) {
  if (IsHashedWhenIndexed(type)) {
    Bytes enc;
    BR2K_RETURN_IF_ERROR(InPlaceEncode(type, value, true, enc));
    return Keccak256(enc);
  }
  BR2K_ASSIGN_OR_RETURN(Bytes w, EncodeOne(type, value));
  return Hash::FromView(w);
}

// ---- reverts ----

std::string RevertReason::ToString() const {
  switch (kind) {
    case Kind::kEmpty:
      return "execution reverted";
    case Kind::kError:
      return "execution reverted: " + message;
    case Kind::kPanic: {
      std::string code = panic_code.ToQuantity();
      return std::string("panic: ") +
             PanicDescription(panic_code.FitsU64() ? panic_code.low64() : ~uint64_t{0}) + " (" +
             code + ")";
    }
    case Kind::kCustom: {
      std::string s = error_name + "(";
      for (size_t i = 0; i < args.size(); ++i) {
        if (i) s += ", ";
        s += FormatAbiValue(arg_types[i], args[i]);
      }
      return s + ")";
    }
    case Kind::kUnknown: {
      if (raw.size() < 4) return "execution reverted: " + ToHex(raw);
      return "custom error " + ToHex(BytesView(raw).subspan(0, 4)) + ":" +
             ToHex(BytesView(raw).subspan(4), false);
    }
  }
  return "execution reverted";
}

RevertReason DecodeRevert(BytesView data, const std::vector<AbiFunction>& errors) {
  static const AbiFunction kError{"Error", {AbiType::String()}, {}, {}};
  static const AbiFunction kPanic{"Panic", {AbiType::Uint()}, {}, {}};
  RevertReason r;
  r.raw.assign(data.begin(), data.end());
  if (data.empty()) return r;
  r.kind = RevertReason::Kind::kUnknown;
  if (data.size() < 4) return r;
  if (auto v = kError.DecodeCall(data); v.ok()) {
    r.kind = RevertReason::Kind::kError;
    r.message = (*v)[0].AsString();
    return r;
  }
  if (auto v = kPanic.DecodeCall(data); v.ok()) {
    r.kind = RevertReason::Kind::kPanic;
    r.panic_code = (*v)[0].word;
    return r;
  }
  for (const auto& e : errors) {
    if (auto v = e.DecodeCall(data); v.ok()) {
      r.kind = RevertReason::Kind::kCustom;
      r.error_name = e.name;
      r.arg_types = e.inputs;
      r.args = std::move(*v);
      return r;
    }
  }
  return r;
}

// ---- JSON ABI ----

Result<const AbiFunction*> ContractAbi::Function(std::string_view name) const {
  for (const auto& f : functions) {
    if (f.name == name) return &f;
  }
  return NotFoundError("abi: no function named " + std::string(name));
}

Result<const AbiEvent*> ContractAbi::Event(std::string_view name) const {
  for (const auto& e : events) {
    if (e.name == name) return &e;
  }
  return NotFoundError("abi: no event named " + std::string(name));
}

const AbiEvent* ContractAbi::EventByTopic(const Hash& topic0) const {
  for (const auto& e : events) {
    if (!e.anonymous && e.Topic() == topic0) return &e;
  }
  return nullptr;
}

namespace {
Result<ContractAbi> ParseContractAbiJson(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return InvalidArgumentError("abi json: not a JSON array");
  ContractAbi abi;
  for (const auto& item : j) {
    if (!item.is_object()) return InvalidArgumentError("abi json: entry is not an object");
    std::string type = item.value("type", "function");
    auto params = [&](const char* key, std::vector<AbiType>& out,
                      std::vector<std::string>* names) -> Status {
      if (!item.contains(key)) return Status::Ok();
      for (const auto& p : item[key]) {
        BR2K_ASSIGN_OR_RETURN(AbiType t, TypeFromJson(p));
        out.push_back(std::move(t));
        if (names) names->push_back(p.value("name", ""));
      }
      return Status::Ok();
    };
    if (type == "function" || type == "error") {
      AbiFunction f;
      f.name = item.value("name", "");
      BR2K_RETURN_IF_ERROR(params("inputs", f.inputs, &f.input_names));
      BR2K_RETURN_IF_ERROR(params("outputs", f.outputs, nullptr));
      (type == "function" ? abi.functions : abi.errors).push_back(std::move(f));
    } else if (type == "event") {
      AbiEvent e;
      e.name = item.value("name", "");
      e.anonymous = item.value("anonymous", false);
      if (item.contains("inputs")) {
        for (const auto& p : item["inputs"]) {
          AbiEventParam ep;
          BR2K_ASSIGN_OR_RETURN(ep.type, TypeFromJson(p));
          ep.indexed = p.value("indexed", false);
          ep.name = p.value("name", "");
          e.params.push_back(std::move(ep));
        }
      }
      abi.events.push_back(std::move(e));
    } else if (type == "constructor") {
      BR2K_RETURN_IF_ERROR(params("inputs", abi.constructor_inputs, nullptr));
    }
  }
  return abi;
}

}  // namespace

Result<ContractAbi> ParseContractAbi(std::string_view json_text) {
  try {
    return ParseContractAbiJson(json_text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(std::string("abi json: ") + e.what());
  }
}

}  // namespace br2k::eth
