/**
 * Built-in type OIDs (PostgreSQL's `pg_type.dat`) whose text output the
 * HTTP query API turns into typed JSON. Every other type, user-defined ones
 * included, is passed on as PostgreSQL's text.
 */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/**
 * Array type OID -> element type OID, for the array types of built-in
 * scalars. (Arrays of user-defined types have OIDs only the database knows;
 * they stay text.)
 */
export const ARRAY_ELEMENT_OIDS: ReadonlyMap<number, number> = new Map([
  [1000, TypeOid.bool],
  [1001, TypeOid.bytea],
  [1002, 18], // "char"
  [1003, 19], // name
  [1005, TypeOid.int2],
  [1007, TypeOid.int4],
  [1009, TypeOid.text],
  [1014, 1042], // bpchar
  [1015, 1043], // varchar
  [1016, TypeOid.int8],
  [1021, TypeOid.float4],
  [1022, TypeOid.float8],
  [1028, TypeOid.oid],
  [1115, TypeOid.timestamp],
  [1182, TypeOid.date],
  [1183, TypeOid.time],
  [1185, TypeOid.timestamptz],
  [1187, TypeOid.interval],
  [1231, TypeOid.numeric],
  [1270, TypeOid.timetz],
  [199, TypeOid.json],
  [2951, TypeOid.uuid],
  [3807, TypeOid.jsonb],
  [651, 650], // cidr
  [1041, 869], // inet
]);
