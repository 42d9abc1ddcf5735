using System.Reflection;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// Every neural model has the same shape (docs/ARCHITECTURE.md) and takes each default from one place
/// (docs/OPTIONS.md): checked over the library's types, so a new model that skips a piece fails here.
/// </summary>
public class ModelShapeTests
{
    private static readonly Assembly s_library = typeof(SvaeTrainer).Assembly;

    private static IEnumerable<Type> NeuralTrainerTypes()
        => s_library.GetTypes().Where(t => !t.IsAbstract && IsNeuralTrainer(t)).OrderBy(t => t.Name, StringComparer.Ordinal);

    public static TheoryData<Type> NeuralTrainers()
    {
        var data = new TheoryData<Type>();
        foreach (var type in NeuralTrainerTypes())
            data.Add(type);
        return data;
    }

    private static bool IsNeuralTrainer(Type type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(SequenceTrainerBase<>))
                return true;
        }
        return false;
    }

    [Fact]
    public void EveryNeuralModelGoesThroughTheOneTrainerBase()
        => Assert.Equal(["BprTrainer", "CaserTrainer", "FpmcTrainer", "Gru4RecTrainer", "MvaeTrainer", "RvaeTrainer", "SasrecTrainer", "SequentialVaeTrainer", "SvaeTrainer"],
            NeuralTrainerTypes().Select(t => t.Name));

    [Theory]
    [MemberData(nameof(NeuralTrainers))]
    public void EachNeuralModelHasTheSameParts(Type trainer)
    {
        string model = trainer.Name[..^"Trainer".Length];
        Type Part(string suffix) => s_library.GetType($"Microsoft.ML.Svae.{model}{suffix}")
            ?? throw new Xunit.Sdk.XunitException($"{model} has no {model}{suffix} (Models/{model}/{model}{suffix}.cs).");

        Assert.True(typeof(ISequenceModel).IsAssignableFrom(Part("Model")), $"{model}Model must implement ISequenceModel.");
        Assert.True(typeof(TorchSharp.torch.nn.Module).IsAssignableFrom(Part("Network")), $"{model}Network must be a TorchSharp module.");
        Assert.True(Part("Objective").IsAbstract && Part("Objective").IsSealed, $"{model}Objective must be a static class.");
        Assert.NotNull(Part("OnnxGraph").GetMethod("Write", BindingFlags.Public | BindingFlags.Static));
        Assert.True(typeof(SequenceTrainerOptions).IsAssignableFrom(trainer.GetNestedType("Options")), $"{model}Trainer.Options must derive from SequenceTrainerOptions.");
        Assert.NotNull(trainer.GetNestedType("Defaults", BindingFlags.NonPublic));
    }

    [Theory]
    [MemberData(nameof(NeuralTrainers))]
    public void OptionsStartAtTheirTrainersDefaults(Type trainer)
    {
        var options = Activator.CreateInstance(trainer.GetNestedType("Options")!)!;
        var defaults = trainer.GetNestedType("Defaults", BindingFlags.NonPublic)!
            .GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
        Assert.NotEmpty(defaults);
        foreach (var constant in defaults)
        {
            var property = options.GetType().GetProperty(constant.Name);
            Assert.True(property is not null, $"{trainer.Name}.Defaults.{constant.Name} names no option.");
            var expected = constant.FieldType.IsEnum ? Enum.ToObject(constant.FieldType, constant.GetRawConstantValue()!) : constant.GetRawConstantValue();
            Assert.Equal(expected, property.GetValue(options));
        }
    }
}
