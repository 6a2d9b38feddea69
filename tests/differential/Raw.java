import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;

import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * One plain TCP connection that sends a single Kafka request built from kafka-clients' own
 * generated message classes, at a fixed version, and parses the answer with kafka-clients' own
 * parser. The scenario uses it for the requests a well-behaved client never sends on purpose:
 * stale generations, unknown member ids, transactions in the wrong state. The versions are fixed
 * (and served by both brokers), so both brokers see byte-identical requests.
 */
final class Raw implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private int correlation = 0;

    Raw(String bootstrap) throws IOException {
        int colon = bootstrap.lastIndexOf(':');
        socket = new Socket();
        socket.connect(new InetSocketAddress(bootstrap.substring(0, colon),
                Integer.parseInt(bootstrap.substring(colon + 1))), 10_000);
        socket.setSoTimeout(30_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Sends {@code request} at {@code version} and returns the response's message data. */
    ApiMessage send(ApiMessage request, int version) throws IOException {
        short v = (short) version;
        ApiKeys key = ApiKeys.forId(request.apiKey());
        RequestHeader header = new RequestHeader(key, v, "differential-raw", ++correlation);
        ObjectSerializationCache cache = new ObjectSerializationCache();
        short hv = header.headerVersion();
        int size = header.data().size(cache, hv) + request.size(cache, v);
        ByteBuffer buf = ByteBuffer.allocate(size);
        ByteBufferAccessor acc = new ByteBufferAccessor(buf);
        header.data().write(acc, cache, hv);
        request.write(acc, cache, v);
        out.writeInt(size);
        out.write(buf.array(), 0, size);
        out.flush();
        int rsize = in.readInt();
        byte[] body = new byte[rsize];
        in.readFully(body);
        return AbstractResponse.parseResponse(ByteBuffer.wrap(body), header).data();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
