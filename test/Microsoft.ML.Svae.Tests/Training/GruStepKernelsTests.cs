using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// The fused GRU's span kernels (<see cref="GruStepKernels"/>, <see cref="BFloat16Rows"/>' conversions) on every vector
/// path (512-bit where the CPU has it, <c>Vector&lt;T&gt;</c>, scalar tails), and the fused GRU's results whichever path
/// its kernels take.
/// </summary>
public class GruStepKernelsTests
{
    /// <summary>
    /// Lengths that put work in each loop: below one <c>Vector&lt;T&gt;</c>, exactly one or two 512-bit vectors of floats
    /// or of bfloat16, one more or one less, odd tails, and SVAE's H = 200 (3H = 600).
    /// </summary>
    public static TheoryData<int, bool> Lengths()
    {
        var data = new TheoryData<int, bool>();
        foreach (int length in new[] { 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 37, 47, 48, 63, 64, 65, 200 })
            foreach (bool vector512 in new[] { true, false })
                data.Add(length, vector512);
        return data;
    }

    /// <summary>Runs <paramref name="action"/> with the kernels' 512-bit loops on (where the CPU has them) or forced off.</summary>
    private static T WithVector512<T>(bool vector512, Func<T> action)
    {
        GruStepKernels.UseVector512 = vector512;
        try
        {
            return action();
        }
        finally
        {
            GruStepKernels.UseVector512 = true;
        }
    }

    private static float[] Values(Random random, int length, float scale = 2f)
        => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TheBackwardRowIsTheMultiPassFormulationBitForBit(int hidden, bool vector512)
    {
        vector512 &= GruStepKernels.UseVector512;
        var random = new Random(hidden);
        // r and z in (0, 1), n in (−1, 1), as the forward pass leaves them.
        var gates = Values(random, 3 * hidden);
        for (int j = 0; j < 2 * hidden; j++)
            gates[j] = 0.5f + gates[j] / 4.5f;
        var candidate = Values(random, hidden, 0.99f);
        var previous = Values(random, hidden, 0.99f);
        var outputGradient = Values(random, hidden);
        var carriedIn = Values(random, hidden);

        foreach (bool first in new[] { true, false })
        {
            // The reference: the factors over the whole row first (one operation at a time, as the multi-pass kernels
            // computed them), then times dh.
            var keep = new float[hidden];
            var newFactor = new float[hidden];
            var factors = new float[3 * hidden];
            var dh = new float[hidden];
            for (int j = 0; j < hidden; j++)
            {
                float r = gates[j], z = gates[hidden + j], n = candidate[j];
                keep[j] = 1f - z;
                newFactor[j] = n * n;
                newFactor[j] = 1f - newFactor[j];
                newFactor[j] *= keep[j];
                factors[hidden + j] = previous[j] - n;
                factors[hidden + j] *= z;
                factors[hidden + j] *= keep[j];
                factors[j] = 1f - r;
                factors[j] *= r;
                factors[j] *= gates[2 * hidden + j];
                factors[j] *= newFactor[j];
                factors[2 * hidden + j] = newFactor[j] * r;
                dh[j] = first ? outputGradient[j] : outputGradient[j] + carriedIn[j];
            }
            var expectedGate = factors.Select((f, k) => f * dh[k % hidden]).ToArray();
            var expectedCarried = dh.Select((d, j) => d * gates[hidden + j]).ToArray();
            var expectedNew = dh.Select((d, j) => d * newFactor[j]).ToArray();

            var carried = (float[])carriedIn.Clone();
            var gateGradient = new float[3 * hidden];
            var newGradient = new float[hidden];
            GruStepKernels.BackwardRow(outputGradient, carried, first, gates, candidate, previous, gateGradient, newGradient, vector512);

            Assert.Equal(expectedGate, gateGradient);
            Assert.Equal(expectedCarried, carried);
            Assert.Equal(expectedNew, newGradient);
        }
    }

    [Fact]
    public void TheBackwardRowNamesTheLengthsItNeeds()
    {
        var error = Assert.Throws<ArgumentException>(() => GruStepKernels.BackwardRow(new float[4], new float[4], true, new float[12],
            new float[4], new float[4], new float[11], new float[4], true));
        Assert.Equal("A GRU backward row's 'gateGradient' must hold 3H = 12 floats (H = 4, the candidate's length); got 11. (Parameter 'gateGradient')", error.Message);
        Assert.Equal("gateGradient", error.ParamName);
        var previous = Assert.Throws<ArgumentException>(() => GruStepKernels.BackwardRow(new float[4], new float[4], true, new float[12],
            new float[4], new float[5], new float[12], new float[4], true));
        Assert.Equal("A GRU backward row's 'previous' must hold H = 4 floats (H = 4, the candidate's length); got 5. (Parameter 'previous')", previous.Message);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TheBFloat16ConversionsAreLibTorchsCastAndExactWidening(int length, bool vector512)
    {
        vector512 &= GruStepKernels.UseVector512;
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)length, CPU);
        // Many magnitudes; halfway values (ties to even, both ways), zeros, a subnormal, the largest finite bfloat16-rounding
        // value and infinities where the length has room for them.
        var values = (randn(new long[] { length }, generator: generator) * exp(randn(new long[] { length }, generator: generator) * 5))
            .data<float>().ToArray();
        float[] special = { 1.00390625f, 1.01171875f, -1.00390625f, 0f, -0f, 1e-40f, 3.3895e38f, float.PositiveInfinity, float.NegativeInfinity };
        for (int k = 0; k < special.Length && 3 * k < length; k++)
            values[3 * k] = special[k];
        var expected = Bits(tensor(values).to(ScalarType.BFloat16));

        var rounded = new ushort[length];
        BFloat16Rows.Round(values, rounded, vector512);
        Assert.Equal(expected, rounded);

        var widened = new float[length];
        BFloat16Rows.Widen(rounded, widened, vector512);
        Assert.Equal(rounded.Select(v => BitConverter.UInt32BitsToSingle((uint)v << 16)).ToArray(), widened);

        var addend = Values(new Random(length), length);
        var sums = new float[length];
        BFloat16Rows.WidenAdd(rounded, addend, sums, vector512);
        Assert.Equal(widened.Select((v, k) => v + addend[k]).ToArray(), sums);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NaNsRoundToTheQuietNaN0x7FC0(bool vector512)
    {
        vector512 &= GruStepKernels.UseVector512;
        uint[] nanBits = { 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFFFFFFFFu, 0x7FFFFFFFu, 0xFF800001u, 0x7FBFFFFFu };
        var values = Enumerable.Range(0, 77).Select(i => i % 3 == 0 ? BitConverter.UInt32BitsToSingle(nanBits[i / 3 % nanBits.Length]) : i * 0.5f).ToArray();
        var actual = new ushort[values.Length];
        BFloat16Rows.Round(values, actual, vector512);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(float.IsNaN(values[i]) ? (ushort)0x7FC0 : (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16), actual[i]);
    }

    [Fact]
    public void TheConversionsNameMismatchedLengths()
    {
        var round = Assert.Throws<ArgumentException>(() => BFloat16Rows.Round(new float[3], new ushort[2], true));
        Assert.Equal("The bfloat16 destination has 2 elements for 3 values. (Parameter 'destination')", round.Message);
        var widen = Assert.Throws<ArgumentException>(() => BFloat16Rows.Widen(new ushort[3], new float[4], true));
        Assert.Equal("Widening 3 bfloat16 values needs as many destinations; got 4. (Parameter 'destination')", widen.Message);
        var add = Assert.Throws<ArgumentException>(() => BFloat16Rows.WidenAdd(new ushort[3], new float[2], new float[3], true));
        Assert.Equal("Widening needs spans of one length; got 3 bfloat16 values, 2 addends and 3 destinations. (Parameter 'destination')", add.Message);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(5, true)]
    [InlineData(37, true)]
    [InlineData(5, false)]
    [InlineData(37, false)]
    public void TheProjectionRowsAreTheBiasesAddedInLibTorchsOrder(int hidden, bool vector512)
    {
        vector512 &= GruStepKernels.UseVector512;
        var random = new Random(hidden);
        var projection = Values(random, 3 * hidden);
        var inputBias = Values(random, 3 * hidden);
        var hiddenBias = Values(random, 3 * hidden);

        // float32: gates = (b_hh + gi)_rz, b_hh,n; candidate = gi_n.
        var gates = new float[3 * hidden];
        var candidate = new float[hidden];
        GruStepKernels.Project(projection, hiddenBias, gates, candidate);
        Assert.Equal(hiddenBias.Select((v, k) => k < 2 * hidden ? v + projection[k] : v).ToArray(), gates);
        Assert.Equal(projection[(2 * hidden)..], candidate);

        // bfloat16: gi = float32(product) + b_ih, then as above.
        var bits = new ushort[3 * hidden];
        BFloat16Rows.Round(projection, bits, vector512);
        var gi = bits.Select((v, k) => BitConverter.UInt32BitsToSingle((uint)v << 16) + inputBias[k]).ToArray();
        GruStepKernels.Project(bits, inputBias, hiddenBias, gates, candidate, vector512);
        Assert.Equal(hiddenBias.Select((v, k) => k < 2 * hidden ? v + gi[k] : v).ToArray(), gates);
        Assert.Equal(gi[(2 * hidden)..], candidate);
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void TheFusedGruGivesTheSameBitsOnEveryVectorPathAndForViews(TrainingPrecision precision)
    {
        // H = 37: rows that are not multiples of any vector width. Also a non-contiguous input and output gradient (views
        // of transposed tensors) give the bits of their contiguous copies.
        using var gru = GruSequenceTests.Gru(19, 37, seed: 11);
        using var scope = NewDisposeScope();
        using var generator = new Generator(23, CPU);
        var x = randn(new long[] { 3, 5, 19 }, generator: generator);
        var upstream = randn(new long[] { 3, 5, 37 }, generator: generator);

        float[][] Run(bool vector512, bool views) => WithVector512(vector512, () =>
        {
            var input = (views ? x.transpose(0, 1).contiguous().transpose(0, 1) : x.clone()).requires_grad_();
            var gradient = views ? upstream.transpose(0, 1).contiguous().transpose(0, 1) : upstream;
            Assert.Equal(views, !input.is_contiguous());
            var output = GruSequence.Fused(gru, input, precision);
            output.backward([gradient]);
            var results = new List<float[]> { output.detach().contiguous().data<float>().ToArray(), input.grad!.contiguous().data<float>().ToArray() };
            results.AddRange(gru.parameters().Select(p => p.grad!.contiguous().data<float>().ToArray()));
            gru.zero_grad();
            return results.ToArray();
        });

        var expected = Run(vector512: true, views: false);
        foreach (var actual in new[] { Run(vector512: false, views: false), Run(vector512: true, views: true) })
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int k = 0; k < expected.Length; k++)
                Assert.Equal(expected[k], actual[k]);
        }
    }

    [Fact]
    public void ABFloat16SpanIsTheTensorsOwnMemoryAndOnlyForContiguousBFloat16()
    {
        using var scope = NewDisposeScope();
        var tensor = zeros(new long[] { 2, 3 }, ScalarType.BFloat16);
        var bits = CpuTensorMemory.BFloat16Bits(tensor);
        Assert.Equal(6, bits.Length);
        bits[4] = 0x3FC0;                                                                          // 1.5
        Assert.Equal(1.5f, tensor[1, 1].to(ScalarType.Float32).item<float>());
        var float32 = Assert.Throws<ArgumentException>(() => { CpuTensorMemory.BFloat16Bits(zeros(2, 3)); });
        Assert.Equal("A span needs a contiguous bfloat16 tensor of at most 2 GB in CPU memory; got Float32 [2, 3] on cpu. (Parameter 'tensor')", float32.Message);
        var view = Assert.Throws<ArgumentException>(() => { CpuTensorMemory.BFloat16Bits(tensor.t()); });
        Assert.Equal("A span needs a contiguous bfloat16 tensor of at most 2 GB in CPU memory; got BFloat16 [3, 2] on cpu, not contiguous. (Parameter 'tensor')", view.Message);
    }

    private static ushort[] Bits(Tensor bfloat16)
        => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bfloat16.bytes).ToArray();
}
