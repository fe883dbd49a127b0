// Writes tests/vectors/java-format.json: items in the legacy DynamoDB Encryption Client
// format as the Java library lays them out, built here from the byte-level description in
// ../shared/reference/legacy-client-format.md (sections 2-6) with the JDK's own JCA
// primitives, for the signature algorithms the Python vectors do not exercise (ECDSA, as
// JCA writes it, and SHA224withRSA) and for a non-default material-description prefix.
// No code of the Java library is used or copied.
//
// Regenerate (JDK 17+), from crates/dynamodb-encryption:
//   java tests/java/JavaFormatVectors.java > tests/vectors/java-format.json
// Every run draws fresh keys, IVs and signatures; the Rust test reads whatever was written.

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class JavaFormatVectors {
  static final SecureRandom RANDOM = new SecureRandom();
  static final Base64.Encoder B64 = Base64.getEncoder();
  static final String TABLE = "JavaFormatTable";
  // The vectors' static AES-128 key 00 01 .. 0f, and a 32-byte AES key-wrapping key.
  static final byte[] AES_KEY = range(0, 16);
  static final byte[] WRAPPING_KEY = range(32, 64);

  static byte[] range(int from, int to) {
    byte[] out = new byte[to - from];
    for (int i = 0; i < out.length; i++) out[i] = (byte) (from + i);
    return out;
  }

  static void lv(ByteArrayOutputStream out, byte[] bytes) {
    out.writeBytes(ByteBuffer.allocate(4).putInt(bytes.length).array());
    out.writeBytes(bytes);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  // Section 3: a value's canonical serialization (only the types used here).
  static byte[] serialize(char tag, byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0);
    out.write(tag);
    lv(out, body);
    return out.toByteArray();
  }

  static byte[] sha256(byte[] data) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(data);
  }

  /** One attribute: its name, type tag, stored bytes and whether it is encrypted. */
  record Attr(String name, char tag, byte[] stored, boolean encrypted) {}

  // Section 4: IV(16) || AES/CBC/PKCS5Padding(serialize(value)).
  static byte[] encrypt(byte[] key, byte[] serialized) throws Exception {
    byte[] iv = new byte[16];
    RANDOM.nextBytes(iv);
    Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
    byte[] ct = c.doFinal(serialized);
    byte[] out = new byte[16 + ct.length];
    System.arraycopy(iv, 0, out, 0, 16);
    System.arraycopy(ct, 0, out, 16, ct.length);
    return out;
  }

  // Section 5.1: H(table) then, per signed attribute in name order, H(name) H(tag) H(value).
  static byte[] stringToSign(List<Attr> attrs) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(sha256(utf8("TABLE>" + TABLE + "<TABLE")));
    TreeMap<String, Attr> sorted = new TreeMap<>();
    for (Attr a : attrs) sorted.put(a.name(), a);
    for (Attr a : sorted.values()) {
      out.writeBytes(sha256(utf8(a.name())));
      out.writeBytes(sha256(utf8(a.encrypted() ? "ENCRYPTED" : "PLAINTEXT")));
      out.writeBytes(sha256(serialize(a.encrypted() ? 'b' : a.tag(), a.stored())));
    }
    return out.toByteArray();
  }

  // Section 2: u32be(0) then LV(key) LV(value) per entry, here in insertion order.
  static byte[] description(Map<String, String> entries) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[4]);
    for (Map.Entry<String, String> e : entries.entrySet()) {
      lv(out, utf8(e.getKey()));
      lv(out, utf8(e.getValue()));
    }
    return out.toByteArray();
  }

  static KeyPair keyPair(String curveOrRsa) throws Exception {
    if (curveOrRsa.equals("RSA")) {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(2048);
      return g.generateKeyPair();
    }
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec(curveOrRsa));
    return g.generateKeyPair();
  }

  static String json(String s) {
    return "\"" + s + "\"";
  }

  /**
   * One item: hashKey N, rangeKey N and note S signed, secret S encrypted and signed. With
   * wrapped, a fresh AES-256 content key is AESWrap-wrapped into the description (section
   * 6.2, as Java's WrappedMaterialsProvider writes it: env-alg "AES"); otherwise the static
   * AES key encrypts (section 6.3).
   */
  static String item(String algorithm, String curve, String prefix, boolean wrapped)
      throws Exception {
    KeyPair pair = keyPair(curve);
    Map<String, String> desc = new LinkedHashMap<>();
    byte[] contentKey = AES_KEY;
    if (wrapped) {
      contentKey = new byte[32];
      RANDOM.nextBytes(contentKey);
      Cipher wrap = Cipher.getInstance("AESWrap");
      wrap.init(Cipher.WRAP_MODE, new SecretKeySpec(WRAPPING_KEY, "AES"));
      desc.put("amzn-ddb-env-key", B64.encodeToString(wrap.wrap(new SecretKeySpec(contentKey, "AES"))));
      desc.put("amzn-ddb-env-alg", "AES");
      desc.put("amzn-ddb-wrap-alg", "AESWrap");
    }
    String secret = "Hello from " + algorithm + "!";
    List<Attr> attrs = new ArrayList<>();
    attrs.add(new Attr("hashKey", 'n', utf8("5"), false));
    attrs.add(new Attr("rangeKey", 'n', utf8("7"), false));
    attrs.add(new Attr("note", 's', utf8("signed, not encrypted"), false));
    attrs.add(new Attr("secret", 's', encrypt(contentKey, serialize('s', utf8(secret))), true));
    // Java's encryptor adds the cipher mode, then the signing algorithm for a private key.
    desc.put(prefix + "sym-mode", "/CBC/PKCS5Padding");
    desc.put(prefix + "signingAlg", algorithm);
    Signature signer = Signature.getInstance(algorithm);
    signer.initSign(pair.getPrivate(), RANDOM);
    signer.update(stringToSign(attrs));
    byte[] signature = signer.sign();

    StringBuilder item = new StringBuilder("{");
    for (Attr a : attrs) {
      String value =
          a.encrypted()
              ? "{\"B\": " + json(B64.encodeToString(a.stored())) + "}"
              : "{\"" + (a.tag() == 'n' ? "N" : "S") + "\": "
                  + json(new String(a.stored(), StandardCharsets.UTF_8)) + "}";
      item.append(json(a.name())).append(": ").append(value).append(", ");
    }
    item.append("\"*amzn-ddb-map-desc*\": {\"B\": ")
        .append(json(B64.encodeToString(description(desc))))
        .append("}, \"*amzn-ddb-map-sig*\": {\"B\": ")
        .append(json(B64.encodeToString(signature)))
        .append("}}");
    return "    {\"algorithm\": " + json(algorithm)
        + ", \"curve\": " + json(curve)
        + ", \"prefix\": " + json(prefix)
        + ", \"provider\": " + json(wrapped ? "wrapped" : "static")
        + ", \"secret\": " + json(secret)
        + ",\n     \"private_key\": " + json(B64.encodeToString(pair.getPrivate().getEncoded()))
        + ",\n     \"public_key\": " + json(B64.encodeToString(pair.getPublic().getEncoded()))
        + ",\n     \"item\": " + item + "}";
  }

  public static void main(String[] args) throws Exception {
    String base = "amzn-ddb-map-";
    List<String> cases = new ArrayList<>();
    cases.add(item("SHA256withECDSA", "secp256r1", base, false));
    cases.add(item("SHA384withECDSA", "secp384r1", base, true));
    cases.add(item("SHA512withECDSA", "secp521r1", base, false));
    cases.add(item("SHA256withECDSA", "secp521r1", base, true));
    // Pairs aws-lc-rs verifies but cannot sign.
    cases.add(item("SHA512withECDSA", "secp256r1", base, false));
    cases.add(item("SHA256withECDSA", "secp384r1", base, true));
    cases.add(item("SHA224withRSA", "RSA", base, false));
    cases.add(item("SHA224withRSA", "RSA", base, true));
    // Java's DynamoDBEncryptor.getInstance(provider, "custom-prefix-").
    cases.add(item("SHA384withECDSA", "secp384r1", "custom-prefix-", false));
    cases.add(item("SHA224withRSA", "RSA", "custom-prefix-", true));
    System.out.println("{\"aes_key\": " + json(B64.encodeToString(AES_KEY))
        + ", \"wrapping_key\": " + json(B64.encodeToString(WRAPPING_KEY))
        + ", \"table\": " + json(TABLE) + ", \"items\": [");
    System.out.println(String.join(",\n", cases));
    System.out.println("]}");
  }
}
