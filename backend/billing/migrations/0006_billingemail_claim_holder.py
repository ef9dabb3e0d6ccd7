from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_billingemail'),
    ]

    operations = [
        migrations.AddField(
            model_name='billingemail',
            name='claimed_by',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
        migrations.AddField(
            model_name='billingemail',
            name='claimed_process',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
    ]
