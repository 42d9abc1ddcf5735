using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class SvaeNetworkTests
{
    private static SvaeNetwork Network(int items = 12, long seed = 3) => new(items, 8, 10, 9, 4, 7, seed);

    [Fact]
    public void ForwardShapesAndFieldNames()
    {
        using var network = Network();
        network.eval();
        using var scope = NewDisposeScope();
        var (logits, mean, logVariance) = network.call(tensor(new long[] { 1, 2, 3, 4, 5, 6 }, new long[] { 2, 3 }));
        Assert.Equal(new long[] { 2, 3, 12 }, logits.shape);
        Assert.Equal(new long[] { 2, 3, 4 }, mean.shape);
        Assert.Equal(new long[] { 2, 3, 4 }, logVariance.shape);

        var names = network.state_dict().Keys.ToHashSet();
        foreach (var name in new[]
        {
            "itemEmbedding.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
            "encoderHidden.weight", "encoderHidden.bias", "encoderOut.weight", "encoderOut.bias",
            "decoderHidden.weight", "decoderHidden.bias", "decoderOut.weight", "decoderOut.bias",
        })
            Assert.Contains(name, names);
        Assert.Equal(new long[] { 8, 9 }, network.encoderOut.weight!.shape); // 2K × encoder size
    }

    [Fact]
    public void ScoreLastIgnoresPaddingAndMatchesTheUnpaddedLastPosition()
    {
        using var network = Network();
        network.eval();
        using var scope = NewDisposeScope();
        long[] shortUser = [3, 7, 1];
        long[] longUser = [2, 2, 5, 11, 0];
        var padded = tensor(new long[] { 3, 7, 1, 0, 0, 2, 2, 5, 11, 0 }, new long[] { 2, 5 });
        var scores = network.ScoreLast(padded, tensor(new long[] { 3, 5 }));

        var alone = network.call(tensor(shortUser, new long[] { 1, 3 })).logits.select(1, 2);
        var aloneLong = network.call(tensor(longUser, new long[] { 1, 5 })).logits.select(1, 4);
        AssertClose(alone.squeeze(0), scores[0]);
        AssertClose(aloneLong.squeeze(0), scores[1]);
    }

    [Fact]
    public void ScoreLastOfAnEmptyHistoryUsesTheZeroState()
    {
        using var network = Network();
        network.eval();
        using var scope = NewDisposeScope();
        var scores = network.ScoreLast(tensor(new long[] { 0, 4 }, new long[] { 2, 1 }), tensor(new long[] { 0, 1 }));
        var (mean, _) = network.Encode(zeros(1, 10));
        AssertClose(network.Decode(mean).squeeze(0), scores[0]);
    }

    [Fact]
    public void SameSeedSameInitializationDifferentSeedDifferent()
    {
        using var a = Network(seed: 1);
        using var b = Network(seed: 1);
        using var c = Network(seed: 2);
        foreach (var (name, value) in a.state_dict())
        {
            Assert.Equal(value.data<float>().ToArray(), b.state_dict()[name].data<float>().ToArray());
            if (!name.EndsWith(".bias", StringComparison.Ordinal) || name.StartsWith("gru", StringComparison.Ordinal))
                Assert.NotEqual(value.data<float>().ToArray(), c.state_dict()[name].data<float>().ToArray());
        }
    }

    [Theory]
    [InlineData(NextKLikelihood.MultiSet, 1)]
    [InlineData(NextKLikelihood.MultiSet, 3)]
    [InlineData(NextKLikelihood.Mixture, 1)]
    [InlineData(NextKLikelihood.Mixture, 3)]
    public void LossMatchesANaiveComputation(NextKLikelihood likelihood, int k)
    {
        const int items = 12;
        const double beta = 0.3;
        int[][] users = [[3, 7, 1, 9, 9, 2], [4], [5, 6], [0, 11, 10, 3]];
        using var network = Network(items);
        network.eval(); // z = μ: deterministic
        var data = TinySequences.FromArrays(items, users);
        var batcher = new SequenceBatcher(data, 8, 100);
        using var scope = NewDisposeScope();
        var batch = batcher.Pack([0, 1, 2, 3], CPU);
        double loss = SvaeObjective.Loss(network, batch, k, likelihood, beta).item<float>();

        double expected = 0;
        foreach (var user in users)
        {
            int length = user.Length;
            var (logits, mean, logVariance) = network.call(tensor(user.Select(i => (long)i).ToArray(), new long[] { 1, length }));
            var logP = logits.squeeze(0).log_softmax(1).data<float>().ToArray();
            var mu = mean.squeeze(0).data<float>().ToArray();
            var lv = logVariance.squeeze(0).data<float>().ToArray();
            double LogP(int state, int item) => logP[state * items + item];
            for (int s = 0; s < length - 1; s++)
            {
                double kl = 0;
                for (int j = 0; j < 4; j++)
                {
                    double m = mu[s * 4 + j], v = lv[s * 4 + j];
                    kl += 0.5 * (Math.Exp(v) - 1 - v + m * m);
                }
                expected += beta * kl;
                if (likelihood == NextKLikelihood.MultiSet)
                {
                    int targets = Math.Min(k, length - 1 - s);
                    double sum = 0;
                    for (int d = 1; d <= targets; d++)
                        sum += LogP(s, user[s + d]);
                    expected -= sum / targets;
                }
                else
                {
                    int p = s + 1; // the target explained by the mixture of the states before it
                    var states = Enumerable.Range(Math.Max(0, p - k), p - Math.Max(0, p - k)).ToArray();
                    double mixture = states.Sum(j => Math.Exp(LogP(j, user[p]))) / states.Length;
                    expected -= Math.Log(mixture);
                }
            }
        }
        Assert.Equal(expected, loss, 1e-3 * Math.Max(1, Math.Abs(expected)));
        Assert.Equal(9, data.Offsets.Zip(data.Offsets.Skip(1), (a, b) => SvaeObjective.Units(b - a)).Sum());
    }

    [Theory]
    [InlineData(NextKLikelihood.MultiSet)]
    [InlineData(NextKLikelihood.Mixture)]
    public void TheLossOfLengthBucketedBatchesEqualsTheLossOfOneUnbucketedBatch(NextKLikelihood likelihood)
    {
        int[][] users = [[3, 7, 1, 9, 9, 2], [4, 5], [5, 6, 0], [0, 11, 10, 3, 8, 8, 1], [2, 3], [6, 7, 8, 9, 10, 11]];
        using var network = Network();
        network.eval(); // z = μ: deterministic
        var data = TinySequences.FromArrays(12, users);
        var batcher = new SequenceBatcher(data, maxUsersPerBatch: 2, maxPositionsPerBatch: 100, order: BatchOrder.LengthBuckets);
        using var scope = NewDisposeScope();

        var plan = batcher.Plan(new Random(4));
        Assert.Equal(3, plan.Count);
        double bucketed = plan.Sum(b => SvaeObjective.Loss(network, batcher.Pack(b, CPU), 3, likelihood, 0.3).item<float>());
        double unbucketed = SvaeObjective.Loss(network, batcher.Pack([0, 1, 2, 3, 4, 5], CPU), 3, likelihood, 0.3).item<float>();
        Assert.Equal(unbucketed, bucketed, 1e-5 * Math.Abs(unbucketed));
        // The bucketed batches are shorter than the one batch of all users.
        Assert.True(plan.Sum(b => b.Length * b.Max(batcher.Length)) < 6 * 7);
    }

    [Fact]
    public void TheFusedMultiSetLossHasTheValueAndGradientOfLogSoftmaxThenGather()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(9, CPU);
        var logits = (randn(5, 7, generator: generator) * 3).requires_grad_();
        var reference = logits.detach().clone().requires_grad_();
        // Repeated targets in a row, and rows with fewer valid targets (weight 0) than k = 3.
        var targets = tensor(new long[] { 1, 1, 4, 0, 6, 2, 3, 3, 3, 5, 0, 0, 6, 5, 4 }, new long[] { 5, 3 });
        var weights = tensor(new float[] { 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1 }, new long[] { 5, 3 });

        var fused = NextKTargets.MultiSetNll(logits, targets, weights);
        var expected = -((reference.log_softmax(1).gather(1, targets) * weights).sum(1) / weights.sum(1)).sum();
        (fused * 2).backward();
        (expected * 2).backward();

        Assert.Equal(expected.item<float>(), fused.item<float>());
        AssertClose(reference.grad!, logits.grad!);
        // By hand for row 3 (one valid target, item 5): ∂/∂logits = 2 · (softmax − onehot(5)).
        var softmax = reference.detach()[3].softmax(0).data<float>().ToArray();
        var row = logits.grad![3].data<float>().ToArray();
        for (int i = 0; i < 7; i++)
            Assert.Equal(2 * (softmax[i] - (i == 5 ? 1 : 0)), row[i], 1e-5);
    }

    [Fact]
    public void TrainingModeSamplesWithTheSeededGenerator()
    {
        using var network = Network();
        network.train();
        using var scope = NewDisposeScope();
        var items = tensor(new long[] { 1, 2, 3 }, new long[] { 1, 3 });
        float[] Draw(ulong seed)
        {
            using var generator = new Generator(seed, CPU);
            network.NoiseGenerator = generator;
            var logits = network.call(items).logits.data<float>().ToArray();
            network.NoiseGenerator = null;
            return logits;
        }
        Assert.Equal(Draw(5), Draw(5));
        Assert.NotEqual(Draw(5), Draw(6));
    }

    [Fact]
    public void EmbeddingDropoutUsesTheSeededGeneratorInTrainingAndIsOffInEval()
    {
        using var plain = Network();
        using var dropped = new SvaeNetwork(12, 8, 10, 9, 4, 7, seed: 3, dropout: 0.5);
        using var scope = NewDisposeScope();
        var items = tensor(new long[] { 1, 2, 3, 4, 5 }, new long[] { 1, 5 });
        float[] States(ulong seed, long globalSeed)
        {
            manual_seed(globalSeed); // the global generator must not matter
            using var generator = new Generator(seed, CPU);
            dropped.NoiseGenerator = generator;
            var states = dropped.Recurrent(items).data<float>().ToArray();
            dropped.NoiseGenerator = null;
            return states;
        }

        dropped.train();
        Assert.Equal(States(5, 1), States(5, 2));
        Assert.NotEqual(States(5, 1), States(6, 1));
        plain.eval();
        var reference = plain.Recurrent(items).data<float>().ToArray();
        Assert.NotEqual(reference, States(5, 1));

        dropped.eval();
        Assert.Equal(reference, States(5, 1));
    }

    [Fact]
    public void SeededDropoutZeroesOrRescalesEveryElement()
    {
        using var scope = NewDisposeScope();
        var input = ones(1000);
        Assert.Same(input, SeededDropout.Apply(input, 0, null));
        using var generator = new Generator(7, CPU);
        var output = SeededDropout.Apply(input, 0.25, generator).data<float>().ToArray();
        Assert.All(output, v => Assert.True(v == 0f || Math.Abs(v - 1 / 0.75f) < 1e-6f, $"unexpected value {v}"));
        int zeros = output.Count(v => v == 0f);
        Assert.InRange(zeros, 200, 300); // 250 expected; a binomial(1000, 0.25) is outside [200, 300] with probability < 1e-3
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        var e = expected.data<float>().ToArray();
        var a = actual.data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5f * Math.Max(1, Math.Abs(e[i])), $"[{i}] expected {e[i]}, got {a[i]}");
    }

    [Fact]
    public void SampleWithKlIsTheMeanAndTheComposedKlInEvalModeAndTheSampleInTrainingMode()
    {
        using var network = Network();
        using var scope = NewDisposeScope();
        using var data = new Generator(5, CPU);
        var states = randn(new long[] { 6, 10 }, generator: data);
        var (mean, logVariance) = network.Encode(states);
        var kl = GaussianLatent.KlDivergence(mean, logVariance).sum();

        network.eval();
        var (z, klSum) = network.SampleWithKl(states);
        Assert.True(z.equal(mean).all().item<bool>());
        Assert.Equal(kl.item<float>(), klSum.item<float>());

        network.train();
        using var first = new Generator(9, CPU);
        network.NoiseGenerator = first;
        var (sampled, sampledKl) = network.SampleWithKl(states);
        using var second = new Generator(9, CPU);
        network.NoiseGenerator = second;
        var expected = network.Sample(mean, logVariance);
        network.NoiseGenerator = null;
        Assert.True(sampled.equal(expected).all().item<bool>());
        Assert.Equal(kl.item<float>(), sampledKl.item<float>(), 1e-5 * Math.Max(1, Math.Abs(kl.item<float>())));
    }
}
