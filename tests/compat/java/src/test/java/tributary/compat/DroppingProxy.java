package tributary.compat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.RequestUtils;
import org.apache.kafka.common.requests.ResponseHeader;

/**
 * A TCP proxy in front of a one-node broker that makes a client retry: it forwards Kafka frames
 * both ways, rewrites the broker address in Metadata responses to its own (so the client keeps
 * coming through it), and for every {@code dropEvery}-th Produce request, after the broker has
 * taken the request, swallows the response and cuts the connection. The client then retries that
 * request and everything else it had in flight on the connection, though the broker already
 * appended them: the idempotent producer's sequence numbers are what keeps the log free of
 * duplicates and in order. At most {@code maxDrops} connections are cut.
 */
final class DroppingProxy implements AutoCloseable {
    private final String targetHost;
    private final int targetPort;
    private final ServerSocket server;
    private final int dropEvery;
    private final int maxDrops;
    private final AtomicInteger produces = new AtomicInteger();
    private final AtomicInteger drops = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "dropping-proxy");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    DroppingProxy(String target, int dropEvery, int maxDrops) throws IOException {
        int colon = target.lastIndexOf(':');
        this.targetHost = target.substring(0, colon);
        this.targetPort = Integer.parseInt(target.substring(colon + 1));
        this.dropEvery = dropEvery;
        this.maxDrops = maxDrops;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pool.execute(this::acceptLoop);
    }

    String bootstrap() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** Connections cut so far (each one made the client retry what it had in flight). */
    int drops() {
        return drops.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Socket broker = new Socket(targetHost, targetPort);
                client.setTcpNoDelay(true);
                broker.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(broker);
                Map<Integer, RequestHeader> pending = new ConcurrentHashMap<>();
                Set<Integer> doomed = ConcurrentHashMap.newKeySet();
                pool.execute(() -> pumpRequests(client, broker, pending, doomed));
                pool.execute(() -> pumpResponses(client, broker, pending, doomed));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("proxy accept failed: " + e);
                }
                return;
            }
        }
    }

    private static byte[] readFrame(DataInputStream in) throws IOException {
        int size = in.readInt();
        byte[] b = new byte[size];
        in.readFully(b);
        return b;
    }

    private static void writeFrame(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
        out.flush();
    }

    private void pumpRequests(Socket client, Socket broker, Map<Integer, RequestHeader> pending, Set<Integer> doomed) {
        try {
            DataInputStream in = new DataInputStream(client.getInputStream());
            DataOutputStream out = new DataOutputStream(broker.getOutputStream());
            while (true) {
                byte[] frame = readFrame(in);
                RequestHeader h = RequestHeader.parse(ByteBuffer.wrap(frame));
                pending.put(h.correlationId(), h);
                if (h.apiKey() == ApiKeys.PRODUCE && produces.incrementAndGet() % dropEvery == 0
                        && drops.get() < maxDrops) {
                    doomed.add(h.correlationId());
                }
                writeFrame(out, frame);
            }
        } catch (IOException | RuntimeException e) {
            closeBoth(client, broker);
        }
    }

    private void pumpResponses(Socket client, Socket broker, Map<Integer, RequestHeader> pending, Set<Integer> doomed) {
        try {
            DataInputStream in = new DataInputStream(broker.getInputStream());
            DataOutputStream out = new DataOutputStream(client.getOutputStream());
            while (true) {
                byte[] frame = readFrame(in);
                int correlationId = ByteBuffer.wrap(frame).getInt(0);
                RequestHeader h = pending.remove(correlationId);
                if (doomed.contains(correlationId)) {
                    if (drops.incrementAndGet() <= maxDrops) {
                        closeBoth(client, broker);
                        return;
                    }
                }
                if (h != null && h.apiKey() == ApiKeys.METADATA) {
                    frame = rewriteMetadata(frame, h);
                }
                writeFrame(out, frame);
            }
        } catch (IOException | RuntimeException e) {
            closeBoth(client, broker);
        }
    }

    private byte[] rewriteMetadata(byte[] frame, RequestHeader h) {
        ByteBuffer buf = ByteBuffer.wrap(frame);
        short headerVersion = h.apiKey().responseHeaderVersion(h.apiVersion());
        ResponseHeader rh = ResponseHeader.parse(buf, headerVersion);
        MetadataResponseData d = new MetadataResponseData(new ByteBufferAccessor(buf), h.apiVersion());
        for (MetadataResponseData.MetadataResponseBroker b : d.brokers()) {
            b.setHost("127.0.0.1");
            b.setPort(server.getLocalPort());
        }
        ByteBuffer out = RequestUtils.serialize(rh.data(), headerVersion, d, h.apiVersion());
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    private void closeBoth(Socket a, Socket b) {
        try {
            a.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            b.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
        pool.shutdownNow();
    }
}
