// The Solidity contract ABI (docs/abi-spec.rst of ethereum/solidity): types, values, encoding
// and strict decoding, function selectors, event topics, log decoding and revert decoding.
//
// Types are parsed from their canonical text ("uint256[2][]", "(address,string)[]"); values are
// an AbiValue tree that mirrors the type. Decoding is strict: it checks every offset and length
// against the input, and rejects non-canonical words (dirty high bits of uintN/address, a bool
// other than 0 or 1, non-zero padding), so a decoded value re-encodes to the same bytes.
// Everything here is pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

struct AbiType {
  enum class Kind {
    kUint,
    kInt,
    kAddress,
    kBool,
    kFixedBytes,
    kBytes,
    kString,
    kArray,
    kFixedArray,
    kTuple
  };
  Kind kind = Kind::kUint;
  int bits = 256;                   // kUint, kInt
  size_t size = 0;                  // kFixedBytes: 1..32; kFixedArray: element count
  std::vector<AbiType> components;  // kArray/kFixedArray: one element type; kTuple: members
  std::vector<std::string> names;   // kTuple: member names when known (from JSON), else empty

  // "uint256", "bytes32[]", "(uint8,string)[2]": the canonical form used in signatures.
  std::string ToString() const;
  bool IsDynamic() const;
  // Bytes this type occupies in the head of an enclosing tuple (32 for dynamic types).
  size_t HeadSize() const;
  // Value-equality of the type structure (names ignored).
  bool SameAs(const AbiType& o) const;

  static AbiType Uint(int bits = 256) { return AbiType{Kind::kUint, bits, 0, {}, {}}; }
  static AbiType Int(int bits = 256) { return AbiType{Kind::kInt, bits, 0, {}, {}}; }
  static AbiType Addr() { return AbiType{Kind::kAddress, 160, 0, {}, {}}; }
  static AbiType Bool() { return AbiType{Kind::kBool, 8, 0, {}, {}}; }
  static AbiType FixedBytes(size_t n) { return AbiType{Kind::kFixedBytes, 0, n, {}, {}}; }
  static AbiType DynBytes() { return AbiType{Kind::kBytes, 0, 0, {}, {}}; }
  static AbiType String() { return AbiType{Kind::kString, 0, 0, {}, {}}; }
  static AbiType Array(AbiType e) { return AbiType{Kind::kArray, 0, 0, {std::move(e)}, {}}; }
  static AbiType FixedArray(AbiType e, size_t n) {
    return AbiType{Kind::kFixedArray, 0, n, {std::move(e)}, {}};
  }
  static AbiType Tuple(std::vector<AbiType> c) {
    return AbiType{Kind::kTuple, 0, 0, std::move(c), {}};
  }
};

// Parses a type. Accepts the aliases "uint"/"int" (= 256 bits) and "byte" (= bytes1), and
// tuples written as "(T1,T2)" or "tuple(T1,T2)". INVALID_ARGUMENT for anything else.
Result<AbiType> ParseAbiType(std::string_view text);
// A comma-separated list of types (no surrounding parentheses); "" is the empty list.
Result<std::vector<AbiType>> ParseAbiTypeList(std::string_view text);

// A value of some AbiType. `word` holds uintN/intN (two's complement)/bool (0 or 1); `bytes`
// holds address (20 bytes), bytesN (N bytes), bytes and string; `items` holds the elements of
// arrays and tuples.
struct AbiValue {
  U256 word;
  Bytes bytes;
  std::vector<AbiValue> items;

  static AbiValue Uint(const U256& v) { return AbiValue{v, {}, {}}; }
  static AbiValue Int(int64_t v);  // two's complement
  static AbiValue Bool(bool b) { return AbiValue{U256(b ? 1 : 0), {}, {}}; }
  static AbiValue Addr(const Address& a) { return AbiValue{{}, a.ToBytes(), {}}; }
  static AbiValue Bytes_(Bytes b) { return AbiValue{{}, std::move(b), {}}; }
  static AbiValue Str(std::string_view s) { return AbiValue{{}, ToBytes(s), {}}; }
  static AbiValue List(std::vector<AbiValue> items) { return AbiValue{{}, {}, std::move(items)}; }

  // Accessors for the common cases (no type checks beyond sizes).
  std::string AsString() const { return eth::ToString(bytes); }
  Address AsAddress() const;
  bool AsBool() const { return !word.IsZero(); }

  friend bool operator==(const AbiValue&, const AbiValue&) = default;
};

// Encodes `values` as the tuple `types` (the argument block of a call, without selector).
// INVALID_ARGUMENT when a value does not fit its type (out of range, wrong length or count).
Result<Bytes> AbiEncode(const std::vector<AbiType>& types, const std::vector<AbiValue>& values);
// Decodes the tuple `types` from `data`. INVALID_ARGUMENT for malformed or non-canonical data.
Result<std::vector<AbiValue>> AbiDecode(const std::vector<AbiType>& types, BytesView data);

// Text values in the syntax of Foundry's cast: numbers in decimal or 0x-hex (a leading '-' for
// intN), true/false, hex for address/bytes/bytesN, strings as they are (or in double quotes),
// arrays "[a,b]", tuples "(a,b)".
Result<AbiValue> ParseAbiValue(const AbiType& type, std::string_view text);
// The inverse, as cast prints decoded values: decimal numbers, checksummed addresses, 0x-hex
// bytes, strings in double quotes, arrays "[a, b]", tuples "(a, b)". With `exp_hints`, numbers
// of 10000 and more carry cast's exponent hint: "1000000000000000000 [1e18]".
std::string FormatAbiValue(const AbiType& type, const AbiValue& value, bool exp_hints = false);

// A function or error signature "name(T1,T2)" with optional outputs "name(T1)(R1,R2)".
struct AbiFunction {
  std::string name;
  std::vector<AbiType> inputs;
  std::vector<AbiType> outputs;
  std::vector<std::string> input_names;  // from JSON ABIs; may be empty

  // "transfer(address,uint256)"
  std::string Signature() const;
  // First four bytes of Keccak-256 of Signature().
  std::array<uint8_t, 4> Selector() const;
  // Selector followed by AbiEncode(inputs, args).
  Result<Bytes> EncodeCall(const std::vector<AbiValue>& args) const;
  // Decodes call data (checks the selector).
  Result<std::vector<AbiValue>> DecodeCall(BytesView calldata) const;
  Result<std::vector<AbiValue>> DecodeOutput(BytesView data) const {
    return AbiDecode(outputs, data);
  }
};

// Parses "name(T1,T2)" or "name(T1)(R1)" (also "function name(...) returns (...)"-less forms
// with just "(T1)" for an anonymous argument list, name then empty).
Result<AbiFunction> ParseFunctionSignature(std::string_view text);

struct AbiEventParam {
  AbiType type;
  bool indexed = false;
  std::string name;
};

struct AbiEvent {
  std::string name;
  std::vector<AbiEventParam> params;
  bool anonymous = false;

  std::string Signature() const;
  // topic[0]: Keccak-256 of Signature().
  Hash Topic() const;
};

// Parses "Name(T1 indexed,T2)" (parameter names after the type are allowed and ignored).
Result<AbiEvent> ParseEventSignature(std::string_view text);

// One decoded log argument. For an indexed parameter of a dynamic or composite type (string,
// bytes, arrays, tuples) the log holds only the Keccak-256 of its encoding: then `hashed` is
// true and `value` is that hash as a bytes32 (`value.bytes`).
struct DecodedLogArg {
  std::string name;
  bool indexed = false;
  bool hashed = false;
  AbiValue value;
};

// Decodes a log of `event` (checks topic[0] unless anonymous, and the topic count).
// INVALID_ARGUMENT when the log does not match the event.
Result<std::vector<DecodedLogArg>> DecodeLog(const AbiEvent& event, const std::vector<Hash>& topics,
                                             BytesView data);

// The topic that an indexed parameter with `value` produces (its word, or the hash of its
// encoding for dynamic/composite types): for building log filters.
Result<Hash> IndexedTopic(const AbiType& type, const AbiValue& value);

// Why a call reverted.
struct RevertReason {
  enum class Kind { kEmpty, kError, kPanic, kCustom, kUnknown };
  Kind kind = Kind::kEmpty;
  std::string message;             // kError: the Error(string) text
  U256 panic_code;                 // kPanic
  std::string error_name;          // kCustom: the error's name
  std::vector<AbiType> arg_types;  // kCustom
  std::vector<AbiValue> args;      // kCustom
  Bytes raw;                       // always: the revert data

  // "execution reverted: <message>", "panic: arithmetic underflow or overflow (0x11)",
  // "StaleEpoch(0x12.., 3, 5)", "execution reverted" (empty), "custom error 0xabcd1234: ..."
  std::string ToString() const;
};

// Decodes revert data: Error(string), Panic(uint256), or one of `errors` by selector.
RevertReason DecodeRevert(BytesView data, const std::vector<AbiFunction>& errors = {});

// The functions, events and errors of a contract, from its JSON ABI (as solc emits it).
struct ContractAbi {
  std::vector<AbiFunction> functions;
  std::vector<AbiEvent> events;
  std::vector<AbiFunction> errors;
  std::vector<AbiType> constructor_inputs;

  // NOT_FOUND when there is no such entry. With overloads, the first is returned.
  Result<const AbiFunction*> Function(std::string_view name) const;
  Result<const AbiEvent*> Event(std::string_view name) const;
  // The event whose topic is `topic0`, or nullptr.
  const AbiEvent* EventByTopic(const Hash& topic0) const;
};

// INVALID_ARGUMENT for malformed JSON or unknown types.
Result<ContractAbi> ParseContractAbi(std::string_view json_text);

}  // namespace br2k::eth
