import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Shared plumbing of the workload drivers: TAP-style result lines, child JVMs (spawned with this
 * JVM's own classpath, their stdout and stderr captured into a log file and scanned for "STATUS"
 * lines), bounded waits and a few Admin helpers.
 */
final class Harness {
    static int passed;
    static int failed;
    /** Children still to be killed if the driver exits early (shutdown hook). */
    static final List<Child> CHILDREN = new ArrayList<>();
    static Path pidFile;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (CHILDREN) {
                for (Child c : CHILDREN) c.process.destroyForcibly();
            }
        }));
    }

    private Harness() {}

    static void ok(String name) {
        passed++;
        System.out.println("ok - workloads/" + name);
        System.out.flush();
    }

    static void notOk(String name, String details) {
        failed++;
        System.out.println("not ok - workloads/" + name);
        for (String line : details.split("\n")) System.out.println("#   " + line);
        System.out.flush();
    }

    /** Runs one named check: ok when it returns, not ok with the message when it throws. */
    static void check(String name, Check body) {
        try {
            body.run();
            ok(name);
        } catch (Throwable t) {
            notOk(name, describe(t));
        }
    }

    static String describe(Throwable t) {
        if (t instanceof AssertionError || t instanceof TimeoutException) return String.valueOf(t.getMessage());
        java.io.StringWriter sw = new java.io.StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String[] lines = sw.toString().split("\n");
        return String.join("\n", java.util.Arrays.asList(lines).subList(0, Math.min(lines.length, 15)));
    }

    interface Check {
        void run() throws Exception;
    }

    static final long T0 = System.nanoTime();

    static void log(String msg) {
        System.out.println(String.format("# [%5.1fs] ", (System.nanoTime() - T0) / 1e9) + msg);
        System.out.flush();
    }

    static void require(boolean cond, String message) {
        if (!cond) throw new AssertionError(message);
    }

    /** Polls cond every 100 ms until it holds; TimeoutException naming what was awaited otherwise. */
    static void await(String what, Duration timeout, BooleanSupplier cond) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (cond.getAsBoolean()) return;
            if (System.nanoTime() > deadline) throw new TimeoutException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            Thread.sleep(100);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String suffix() {
        return Long.toString(System.nanoTime() % 1_000_000_000L, 36) + Integer.toString((int) (Math.random() * 46656), 36);
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return Admin.create(p);
    }

    /** The topic configs of each topic, by name, as DescribeConfigs reports them. */
    static Map<String, Map<String, ConfigEntry>> topicConfigs(Admin admin, Collection<String> topics) throws Exception {
        List<ConfigResource> res = topics.stream().map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).collect(Collectors.toList());
        Map<ConfigResource, Config> all = admin.describeConfigs(res).all().get(30, TimeUnit.SECONDS);
        Map<String, Map<String, ConfigEntry>> out = new HashMap<>();
        for (Map.Entry<ConfigResource, Config> e : all.entrySet()) {
            Map<String, ConfigEntry> m = new HashMap<>();
            for (ConfigEntry ce : e.getValue().entries()) m.put(ce.name(), ce);
            out.put(e.getKey().name(), m);
        }
        return out;
    }

    /** Logs the configs set on each topic (DYNAMIC_TOPIC_CONFIG), so that runs against Kafka and Tributary compare. */
    static void logTopicOverrides(String prefix, Map<String, Map<String, ConfigEntry>> cfg) {
        for (String t : new java.util.TreeSet<>(cfg.keySet())) {
            String o = cfg.get(t).values().stream().filter(e -> e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG)
                    .map(e -> e.name() + "=" + e.value()).sorted().collect(Collectors.joining(", "));
            log(prefix + t + " set: " + o);
        }
    }

    static Map<String, TopicDescription> describeTopics(Admin admin, Collection<String> topics) throws Exception {
        return admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS);
    }

    static Set<String> listTopics(Admin admin) throws Exception {
        return admin.listTopics().names().get(30, TimeUnit.SECONDS);
    }

    /** Asserts that a topic config has the expected value, and (for an override) that it is a topic override. */
    static void expectConfig(List<String> problems, String topic, Map<String, ConfigEntry> cfg, String name, String expected) {
        ConfigEntry e = cfg.get(name);
        if (e == null) {
            problems.add(topic + ": " + name + " not described (expected " + expected + ")");
        } else if (!expected.equals(e.value())) {
            problems.add(topic + ": " + name + "=" + e.value() + " (source " + e.source() + "), expected " + expected);
        } else if (e.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
            problems.add(topic + ": " + name + "=" + e.value() + " but source " + e.source() + ", expected DYNAMIC_TOPIC_CONFIG (set at creation)");
        }
    }

    /** A child JVM running mainClass with this JVM's classpath. */
    static Child spawn(String name, Path workDir, String heap, List<String> jvmProps, String mainClass, String... args) throws IOException {
        return spawnWithClasspath(name, workDir, heap, jvmProps, System.getProperty("java.class.path"), mainClass, args);
    }

    static Child spawnWithClasspath(String name, Path workDir, String heap, List<String> jvmProps, String classpath, String mainClass, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + heap);
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-Djava.awt.headless=true");
        // temporary files (RocksDB's JNI library, 20 MB per Streams JVM) go to the run's work dir,
        // which is removed afterwards, and a SIGKILLed JVM leaves no hsperfdata file behind
        cmd.add("-Djava.io.tmpdir=" + workDir);
        cmd.add("-XX:-UsePerfData");
        String log4j = System.getProperty("log4j2.configurationFile");
        if (log4j != null) cmd.add("-Dlog4j2.configurationFile=" + log4j);
        cmd.addAll(jvmProps);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        Path logFile = workDir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Process p = pb.start();
        Child c = new Child(name, p, logFile);
        synchronized (CHILDREN) {
            CHILDREN.add(c);
        }
        if (pidFile != null) {
            Files.writeString(pidFile, p.pid() + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        }
        c.startReader();
        log("started " + name + " (pid " + p.pid() + ")");
        return c;
    }

    static final class Child {
        final String name;
        final Process process;
        final Path logFile;
        /** Fields of the last "STATUS k=v k=v" line the child printed. */
        volatile Map<String, String> status = Map.of();
        final List<String> tail = new ArrayList<>();

        Child(String name, Process process, Path logFile) {
            this.name = name;
            this.process = process;
            this.logFile = logFile;
        }

        void startReader() {
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                     PrintWriter w = new PrintWriter(Files.newBufferedWriter(logFile, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        w.println(line);
                        w.flush();
                        synchronized (tail) {
                            tail.add(line);
                            if (tail.size() > 60) tail.remove(0);
                        }
                        if (line.startsWith("STATUS ")) {
                            Map<String, String> m = new HashMap<>();
                            for (String kv : line.substring(7).split(" ")) {
                                int i = kv.indexOf('=');
                                if (i > 0) m.put(kv.substring(0, i), kv.substring(i + 1));
                            }
                            status = m;
                        }
                    }
                } catch (IOException e) {
                    // the child is gone
                }
            }, name + "-reader");
            t.setDaemon(true);
            t.start();
        }

        String status(String key) {
            return status.getOrDefault(key, "");
        }

        boolean alive() {
            return process.isAlive();
        }

        /** SIGKILL (Process.destroyForcibly sends SIGKILL on Unix), then waits for the exit. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
            log("killed " + name + " with SIGKILL");
        }

        /** SIGTERM, then SIGKILL after the grace period. */
        void stop(Duration grace) throws InterruptedException {
            if (!process.isAlive()) return;
            process.destroy();
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                log(name + " did not stop within " + grace.toSeconds() + " s of SIGTERM; SIGKILL");
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }

        String tail(int n) {
            synchronized (tail) {
                List<String> t = tail.subList(Math.max(0, tail.size() - n), tail.size());
                return name + " (log " + logFile + "), last lines:\n" + String.join("\n", t);
            }
        }
    }

    static void stopAll(Duration grace) throws InterruptedException {
        List<Child> cs;
        synchronized (CHILDREN) {
            cs = new ArrayList<>(CHILDREN);
        }
        for (Child c : cs) if (c.alive()) c.process.destroy();
        for (Child c : cs) c.stop(grace);
    }
}
